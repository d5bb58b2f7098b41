import { messageText, withMessageText } from './message-text.ts';
import type { GuardMessage } from './types.ts';

/**
 * Anthropic sends tool results inside a `user` message (`tool_result` blocks, and
 * `search_result` blocks from retrieval), sometimes followed by the user's own text blocks.
 * The guards see the tool results as their own message with role `tool`, so a guard that
 * matches inside one names a tool result, not the user (input_source, guard-decisions.ts), and
 * the user's text stays a `user` message: a user message whose leading blocks are tool results
 * and whose later blocks hold text becomes two guard messages, `tool` then `user`. A message of
 * tool results only becomes one `tool` message; any other message is read as before.
 *
 * The cut is a block index, computed the same way on read and on write-back, so a guard's
 * replacement for each of the two messages goes back into its own blocks. A message whose
 * text comes before a tool result (the API refuses that order) is not cut: one user message.
 */

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** A block that holds a tool's output: no `text` of its own, a `content` string or block list. */
function isToolBlock(b: Obj): boolean {
  return typeof b.text !== 'string' && (typeof b.content === 'string' || Array.isArray(b.content));
}

/** A block with the message's own text: a text block or a plain-text document. */
function isOwnText(b: Obj): boolean {
  if (typeof b.text === 'string') return true;
  return b.type === 'document' && asObj(b.source)?.type === 'text';
}

/**
 * How many leading blocks of a user message's content are the tool results' part: 0 when it
 * has none (or its text comes before one), the block count when it has no text of its own.
 * One pass, no allocation.
 */
export function toolCut(content: unknown): number {
  if (!Array.isArray(content)) return 0;
  let lastTool = -1;
  let firstOwn = -1;
  for (let i = 0; i < content.length; i++) {
    const b = asObj(content[i]);
    if (b === undefined) continue;
    if (isToolBlock(b)) {
      if (firstOwn !== -1) return 0;
      lastTool = i;
    } else if (firstOwn === -1 && isOwnText(b)) {
      // Text before any tool result: no cut, whatever follows (the usual user message).
      if (lastTool === -1) return 0;
      firstOwn = i;
    }
  }
  if (lastTool === -1) return 0;
  return firstOwn === -1 ? content.length : lastTool + 1;
}

/**
 * The guard messages of a raw Anthropic message list. One pass and one array, as before this
 * split existed, for the usual request (issue 13: no extra allocation per call); a list with a
 * message to cut gets a second array, with that message read as two.
 */
export function guardMessages(raw: readonly unknown[]): GuardMessage[] {
  let cuts = false;
  // Sized once, as the map this replaced (growing by push cost ~15 ns a call in the A/B);
  // a message to cut is left empty here and read below.
  const out = new Array<GuardMessage>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const o = asObj(raw[i]);
    const content = o?.content;
    let role = roleOf(o);
    if (role === 'user' && Array.isArray(content)) {
      const cut = toolCut(content);
      if (cut === content.length) role = 'tool';
      else if (cut > 0) {
        cuts = true;
        continue;
      }
    }
    out[i] = { role, content: messageText(o) };
  }
  if (!cuts) return out;
  const all: GuardMessage[] = [];
  for (let i = 0; i < raw.length; i++) {
    const m = out[i];
    if (m !== undefined) all.push(m);
    else pushGuardMessages(all, raw[i]);
  }
  return all;
}

/** The guard messages of one raw Anthropic message (one, or `tool` then `user`). */
function pushGuardMessages(out: GuardMessage[], message: unknown): void {
  const o = asObj(message);
  const role = roleOf(o);
  const content = o?.content;
  // The common message (a string, or not the user's) is read as before, without the scan.
  const cut = role === 'user' && Array.isArray(content) ? toolCut(content) : 0;
  if (cut === 0) out.push({ role, content: messageText(o) });
  else if (cut === (content as unknown[]).length) out.push({ role: 'tool', content: messageText(o) });
  else {
    const parts = content as unknown[];
    out.push({ role: 'tool', content: messageText({ content: parts.slice(0, cut) }) });
    out.push({ role, content: messageText({ content: parts.slice(cut) }) });
  }
}

/**
 * The raw messages with the guards' replacements written back, reading `messages` in the
 * order pushGuardMessages made them; a message whose replacement is missing is kept.
 */
export function withGuardMessages(raw: readonly unknown[], messages: readonly GuardMessage[]): unknown[] {
  let j = 0;
  return raw.map((m) => {
    const o = asObj(m);
    const content = o?.content;
    const cut = roleOf(o) === 'user' ? toolCut(content) : 0;
    if (cut === 0 || cut === (content as unknown[]).length) {
      const r = messages[j++];
      return r === undefined ? m : withMessageText(m, r.content);
    }
    const parts = content as unknown[];
    const rTool = messages[j++];
    const rOwn = messages[j++];
    const tool = parts.slice(0, cut);
    const own = parts.slice(cut);
    const toolOut = rTool === undefined ? tool : partsOf(withMessageText({ content: tool }, rTool.content));
    const ownOut = rOwn === undefined ? own : partsOf(withMessageText({ content: own }, rOwn.content));
    if (toolOut === tool && ownOut === own) return m;
    return { ...o, content: [...toolOut, ...ownOut] };
  });
}

function roleOf(o: Obj | undefined): string {
  return typeof o?.role === 'string' ? o.role : 'user';
}

function partsOf(message: unknown): unknown[] {
  const c = asObj(message)?.content;
  return Array.isArray(c) ? c : [];
}
