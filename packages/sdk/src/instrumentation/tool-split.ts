import { messageText, withMessageText } from './message-text.ts';
import type { GuardMessage } from './types.ts';

/**
 * Anthropic sends tool results inside a `user` message (`tool_result` blocks, and
 * `search_result` blocks from retrieval), usually followed by the user's own text blocks, and
 * attached documents as `document` blocks beside the user's text. The guards see each run of
 * consecutive tool results as a message of its own with role `tool`, and each run of plain-text
 * documents as one with role `document` (both third-party content: isToolRole), so a guard
 * that matches inside one names it, not the user (input_source, guard-decisions.ts); the user's
 * own text blocks stay `user` messages. A block is judged by what it is, not where it sits:
 * the API wants tool results first, but clients send text before or between them, and a
 * tool_result after the user's text is still a tool's output (before, such a message was read
 * whole as the user's, so an injection in its tool result was put on the user). A message of
 * one kind of block is one message, as before; blocks that are neither (images, PDFs) go with
 * the run they follow (with the first run when they lead).
 *
 * The runs are computed the same way on read and on write-back, so a guard's replacement for
 * each goes back into its own blocks.
 */

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** A block that holds a tool's output: no `text` of its own, a `content` string or block list. */
function isToolBlock(b: Obj): boolean {
  return typeof b.text !== 'string' && (typeof b.content === 'string' || Array.isArray(b.content));
}

/** A plain-text document block (its data is read: message-text.ts). */
function isTextDocument(b: Obj): boolean {
  return b.type === 'document' && asObj(b.source)?.type === 'text';
}

/** The guard role of a block's run: `tool`, `document`, '' for the user's own text, undefined for neither. */
function kindOf(block: unknown): string | undefined {
  const b = asObj(block);
  if (b === undefined) return undefined;
  if (typeof b.text === 'string') return '';
  if (isToolBlock(b)) return 'tool';
  if (isTextDocument(b)) return 'document';
  return undefined;
}

/**
 * How a user message's content is read: undefined, whole as the user's (no tool result or
 * document in it: the usual message); a role, whole as that role (`tool`: tool results only;
 * `document`: documents only); or, for a message of several kinds, the index where each run
 * after the first starts. One pass and no allocation unless the message has several kinds.
 */
export function toolRuns(content: unknown): string | number[] | undefined {
  if (!Array.isArray(content)) return undefined;
  let first: string | undefined;
  let current: string | undefined;
  let starts: number[] | undefined;
  for (let i = 0; i < content.length; i++) {
    const k = kindOf(content[i]);
    if (k === undefined || k === current) continue;
    if (current === undefined) first = k;
    else (starts ??= []).push(i);
    current = k;
  }
  if (starts !== undefined) return starts;
  return first === '' ? undefined : first;
}

/**
 * Calls `take` with each run of a mixed message (toolRuns gave `starts`): its [from, to)
 * bounds and role, the kind of its first kinded block (a leading neutral block is the first
 * run's), the message's own role for the user's text.
 */
function eachRun(
  content: readonly unknown[],
  starts: readonly number[],
  role: string,
  take: (from: number, to: number, role: string) => void,
): void {
  let from = 0;
  for (let r = 0; r <= starts.length; r++) {
    const to = r < starts.length ? (starts[r] as number) : content.length;
    let kind: string | undefined;
    for (let i = from; kind === undefined && i < to; i++) kind = kindOf(content[i]);
    take(from, to, kind === '' || kind === undefined ? role : kind);
    from = to;
  }
}

/**
 * The guard messages of a raw Anthropic message list. One pass and one array, as before this
 * split existed, for the usual request (issue 13: no extra allocation per call); a list with a
 * message to cut gets a second array, with that message read as several.
 */
export function guardMessages(raw: readonly unknown[]): GuardMessage[] {
  // The runs of each message to cut, by index; allocated only when there is one.
  let cuts: Array<number[] | undefined> | undefined;
  // Sized once, as the map this replaced (growing by push cost ~15 ns a call in the A/B);
  // a message to cut is left empty here and read below.
  const out = new Array<GuardMessage>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const o = asObj(raw[i]);
    const content = o?.content;
    let role = roleOf(o);
    if (role === 'user' && Array.isArray(content)) {
      const runs = toolRuns(content);
      if (typeof runs === 'string') role = runs;
      else if (runs !== undefined) {
        cuts ??= [];
        cuts[i] = runs;
        continue;
      }
    }
    out[i] = { role, content: messageText(o) };
  }
  if (cuts === undefined) return out;
  const all: GuardMessage[] = [];
  for (let i = 0; i < raw.length; i++) {
    const starts = cuts[i];
    if (starts === undefined) {
      all.push(out[i] as GuardMessage);
      continue;
    }
    const o = asObj(raw[i]) as Obj;
    const parts = o.content as unknown[];
    eachRun(parts, starts, roleOf(o), (from, to, role) =>
      all.push({ role, content: messageText({ content: parts.slice(from, to) }) }),
    );
  }
  return all;
}

/**
 * The raw messages with the guards' replacements written back, reading `messages` in the
 * order guardMessages made them; a message whose replacement is missing is kept.
 */
export function withGuardMessages(raw: readonly unknown[], messages: readonly GuardMessage[]): unknown[] {
  let j = 0;
  return raw.map((m) => {
    const o = asObj(m);
    const content = o?.content;
    const runs = roleOf(o) === 'user' ? toolRuns(content) : undefined;
    if (runs === undefined || typeof runs === 'string') {
      const r = messages[j++];
      return r === undefined ? m : withMessageText(m, r.content);
    }
    const parts = content as unknown[];
    let changed = false;
    const next: unknown[] = [];
    eachRun(parts, runs, roleOf(o), (from, to) => {
      const r = messages[j++];
      const run = parts.slice(from, to);
      const written = r === undefined ? run : partsOf(withMessageText({ content: run }, r.content));
      if (written !== run) changed = true;
      next.push(...written);
    });
    return changed ? { ...o, content: next } : m;
  });
}

function roleOf(o: Obj | undefined): string {
  return typeof o?.role === 'string' ? o.role : 'user';
}

function partsOf(message: unknown): unknown[] {
  const c = asObj(message)?.content;
  return Array.isArray(c) ? c : [];
}
