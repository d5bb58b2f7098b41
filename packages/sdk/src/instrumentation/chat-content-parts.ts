import type { StreamItemRewrite } from './stream-rewriter.ts';

/**
 * A chat message's `content` as an array of parts, which some OpenAI-compatible servers send in
 * an answer (`choices[i].message.content`; the openai package's type for an assistant message
 * allows it) and in a streamed delta (`delta.content`): `[{type: 'text', text}, {type:
 * 'refusal', refusal}]`. Before, the output guards read `content` only as a string: an address
 * in a text part passed detect, block and redact.
 *
 * Each text-bearing part (a `text` part's `text`, a `refusal` part's `refusal`) is read as the
 * answer's text, in order: in a complete answer each part is an answer text of its own (under
 * piiGuard's `maxChars` apart, as each choice is), found as `text`; a rewrite goes back into the
 * part it came from, the array's shape kept. A streamed delta's parts are the stream's text, read
 * and rewritten in order in their choice's lane (the chunk checks and the end check read them as
 * they read a string delta). Other parts (images, audio) and parts whose field is not a string
 * are neither read nor touched. Linear: one pass over the parts.
 */

type Obj = Record<string, unknown>;

/** The field of a part that carries its text, or undefined for a part that carries none. */
function textField(part: unknown): 'text' | 'refusal' | undefined {
  if (typeof part !== 'object' || part === null || Array.isArray(part)) return undefined;
  const p = part as Obj;
  if (p.type === 'text' && typeof p.text === 'string') return 'text';
  if (p.type === 'refusal' && typeof p.refusal === 'string') return 'refusal';
  return undefined;
}

/** Each text-bearing part's text, in order, appended to `out`. */
export function contentPartTexts(parts: readonly unknown[], out: string[]): void {
  for (const part of parts) {
    const f = textField(part);
    if (f !== undefined) out.push((part as Obj)[f] as string);
  }
}

/**
 * `next` (from `at`, one per text-bearing part, as contentPartTexts read them) written back into
 * the parts; returns the index after the last taken and whether any part's text changed.
 */
export function writeContentParts(
  parts: readonly unknown[],
  next: readonly string[],
  at: number,
): { at: number; changed: boolean } {
  let changed = false;
  for (const part of parts) {
    const f = textField(part);
    if (f === undefined) continue;
    const p = part as Obj;
    const text = next[at++] ?? '';
    if (text !== p[f]) {
      p[f] = text;
      changed = true;
    }
  }
  return { at, changed };
}

/** A streamed delta's `content`: the string, or its parts' texts back to back; undefined when neither. */
export function deltaContent(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  let out = '';
  for (const part of content) {
    const f = textField(part);
    if (f !== undefined) out += (part as Obj)[f] as string;
  }
  return out;
}

/**
 * A streamed delta's content parts rewritten in place, each part's text the next characters of
 * its choice's lane (as a string delta is); `placed` is told each part's text and its rewrite (the
 * lane's annotation offsets follow them, stream-offsets.ts). Returns whether any changed.
 */
export function rewriteDeltaParts(
  parts: readonly unknown[],
  rw: StreamItemRewrite,
  lane: number,
  placed: (before: string, after: string) => void,
): boolean {
  let changed = false;
  for (const part of parts) {
    const f = textField(part);
    if (f === undefined) continue;
    const p = part as Obj;
    const text = p[f] as string;
    if (text.length === 0) continue;
    const next = rw.next(text, lane);
    placed(text, next);
    if (next !== text) {
      p[f] = next;
      changed = true;
    }
  }
  return changed;
}
