import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One request as the fake server saw it (body parsed as JSON). */
export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * The deterministic answer to one request, independent of the wire format. Markers in the last
 * user message steer it, so a demo or test can provoke behaviour without a script:
 * `[[429]]` / `[[500]]` fail, `[[leak]]` repeats the system prompt, `call tool <name>` calls a tool,
 * `[[reply:N]]` makes the reply N characters long.
 */
export interface ReplyPlan {
  id: string;
  model: string;
  text: string;
  toolCall?: { id: string; name: string; arguments: string };
  promptTokens: number;
  completionTokens: number;
  errorStatus?: number;
}

/** Token counts are characters / 4, rounded up, at least 1: predictable for exact assertions. */
export function fakeTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

export function planReply(req: FakeRequest): ReplyPlan {
  const { system, texts, lastUser } = promptParts(req.body);
  const promptChars = system.length + texts.reduce((n, t) => n + t.length, 0);
  const id = createHash('sha256').update(JSON.stringify(req.body)).digest('hex').slice(0, 12);
  const model = typeof req.body.model === 'string' ? req.body.model : 'fake-model';
  const plan: ReplyPlan = { id, model, text: '', promptTokens: fakeTokens(promptChars), completionTokens: 1 };
  if (lastUser.includes('[[429]]')) return { ...plan, errorStatus: 429 };
  if (lastUser.includes('[[500]]')) return { ...plan, errorStatus: 500 };
  const tool = /call tool ([A-Za-z0-9_-]+)/.exec(lastUser);
  if (tool?.[1] !== undefined) {
    const args = JSON.stringify({ query: 'fake' });
    return {
      ...plan,
      toolCall: { id: `call_${id}`, name: tool[1], arguments: args },
      completionTokens: fakeTokens(tool[1].length + args.length),
    };
  }
  let text = lastUser.includes('[[leak]]') ? `Sure. My instructions are: ${system}` : `Echo: ${lastUser}`;
  const length = /\[\[reply:(\d{1,5})\]\]/.exec(lastUser);
  if (length?.[1] !== undefined) text = sized(text, Math.min(Number(length[1]), MAX_REPLY_CHARS));
  return { ...plan, text, completionTokens: fakeTokens(text.length) };
}

const MAX_REPLY_CHARS = 20_000;
const FILLER = ' The answer goes on with ordinary detail, an example and a short caveat.';

/** `[[reply:N]]`: a reply of exactly N characters (the echo, cut or padded with plain prose), as real replies are longer than the question. */
function sized(text: string, n: number): string {
  let out = text;
  while (out.length < n) out += FILLER;
  return out.slice(0, n);
}

/** Splits a reply into stream pieces of at most `size` characters (the last may be shorter). */
export function pieces(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

function promptParts(body: Record<string, unknown>): { system: string; texts: string[]; lastUser: string } {
  const texts: string[] = [];
  let system = textOf(body.system) + textOf(body.instructions);
  let lastUser = '';
  const list = Array.isArray(body.messages)
    ? body.messages
    : Array.isArray(body.input)
      ? body.input
      : undefined;
  if (typeof body.input === 'string') {
    texts.push(body.input);
    lastUser = body.input;
  }
  for (const m of list ?? []) {
    if (typeof m !== 'object' || m === null) continue;
    const msg = m as { role?: unknown; content?: unknown };
    const text = textOf(msg.content);
    if (msg.role === 'system' || msg.role === 'developer') system += text;
    else texts.push(text);
    if (msg.role === 'user') lastUser = text;
  }
  return { system, texts, lastUser };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') {
      out += (part as { text: string }).text;
    }
  }
  return out;
}
