// An openai client on the canned answer, and the benchmarks' one call on it. Apart from
// canned-chat.ts because this imports `openai` at load: peer-child.ts imports canned-chat.ts
// and must load `openai` only after a peer's instrumentation has hooked its import.
import OpenAI from 'openai';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';

/** An openai client whose every request gets the canned answer, plain or streamed. */
export function cannedClient(stream: boolean): OpenAI {
  return new OpenAI({
    apiKey: 'bench',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: stream ? cannedStreamFetch : cannedFetch,
  });
}

/** The benchmarks' one chat call on `c`; a streamed one is read to its end. */
export async function cannedCall(c: OpenAI, stream: boolean): Promise<void> {
  if (stream) for await (const _ of await c.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else await c.chat.completions.create(CHAT_BODY);
}
