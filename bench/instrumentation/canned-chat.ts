// The one chat call the instrumentation benchmarks make, and the answer their canned `fetch`
// returns without a socket (plain and streamed): shared by run.ts, peer-child.ts and profile-driver.ts
// so all measure the same call.

export const CHAT_BODY = {
  model: 'gpt-4o-mini',
  max_tokens: 64,
  messages: [
    {
      role: 'system' as const,
      content: 'You are a helpful assistant for the Acme billing portal. Answer briefly.',
    },
    { role: 'user' as const, content: 'How do I download last month invoice as a PDF from the portal?' },
  ],
};

/** What the canned answer says (the user message echoed). */
export const CANNED_TEXT = `Echo: ${CHAT_BODY.messages[1].content}`;

/** OpenAI answers with the dated snapshot of the model asked for, as here. */
const ANSWER_MODEL = 'gpt-4o-mini-2024-07-18';

const CANNED = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: ANSWER_MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: CANNED_TEXT }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 34, completion_tokens: 17, total_tokens: 51 },
});

/** A `fetch` for the OpenAI client that answers every call with the canned completion. */
export const cannedFetch = (): Promise<Response> =>
  Promise.resolve(new Response(CANNED, { status: 200, headers: { 'content-type': 'application/json' } }));

/** The same answer streamed (a `fetch` for the client): 8 content chunks and the final one, as OpenAI's SSE sends them. */
const words = CANNED_TEXT.split(/(?<= )/);
const chunk = (delta: object, finish: string | null): string =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: ANSWER_MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const cannedSse = [
  chunk({ role: 'assistant', content: '' }, null),
  ...Array.from({ length: 8 }, (_, k) =>
    chunk({ content: words.slice((k * words.length) / 8, ((k + 1) * words.length) / 8).join('') }, null),
  ),
  chunk({}, 'stop'),
  'data: [DONE]\n\n',
].join('');
export const cannedStreamFetch = (): Promise<Response> =>
  Promise.resolve(new Response(cannedSse, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
