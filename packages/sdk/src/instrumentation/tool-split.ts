import { guardMessageOf, withMessageText } from './message-text.ts';
import { citationsGuardMessage, hasCitations, withCitationsText } from './citations.ts';
import { isContentDocument, isServerResult, nestedGuardMessage, withNestedText } from './nested-blocks.ts';
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
 * the run they follow (with the first run when they lead). The results of Anthropic's server
 * tools (web fetch, code execution: nested-blocks.ts) sit in the assistant's message; each run
 * of them there (or in a user message) is a `tool` message too, the rest of the assistant's
 * message stays `assistant`. Custom-content documents (`source.type: 'content'`) are
 * `document` messages read by nested-blocks.ts. The citations on a message's text blocks (the
 * quotes and titles of an answer resent as history) are a `document` message read just before
 * it (citations.ts).
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

/**
 * A result the API ran a tool for and put in the assistant's message with its text in
 * `content` (a string or text blocks), as a tool_result holds it: beta `mcp_tool_result` (the
 * MCP connector's server reply) and, conservatively, any other `*_tool_result` of that shape
 * a later beta adds. Third-party text the client resends: read as a tool's, in either role.
 * (The server results with nested text are nested-blocks.ts'.)
 */
function isServerToolOutput(b: Obj): boolean {
  if (typeof b.type !== 'string' || !b.type.endsWith('_tool_result') || typeof b.text === 'string')
    return false;
  const c = b.content;
  if (typeof c === 'string') return true;
  // Text blocks only: web_search_tool_result's results (titles, encrypted pages) stay unread.
  return Array.isArray(c) && c.some((x) => typeof asObj(x)?.text === 'string');
}

/** A plain-text document block (its data is read: message-text.ts). */
function isTextDocument(b: Obj): boolean {
  return b.type === 'document' && asObj(b.source)?.type === 'text';
}

/** The kind of a server tool's result (role `tool`, read by nested-blocks.ts). */
const SERVER = 'server';
/** The kind of a custom-content document (role `document`, read by nested-blocks.ts). */
const CONTENT_DOCUMENT = 'content-document';

/** Whether a kind's text sits in nested objects (nested-blocks.ts reads it, not message-text.ts). */
function isNested(kind: string): boolean {
  return kind === SERVER || kind === CONTENT_DOCUMENT;
}

/**
 * The kind of a block's run: `tool`, `document`, SERVER, '' for the message's own text,
 * undefined for neither. In an assistant message only its text and server results count.
 */
function kindOf(block: unknown, assistant: boolean): string | undefined {
  const b = asObj(block);
  if (b === undefined) return undefined;
  if (typeof b.text === 'string') return '';
  if (isServerResult(b)) return SERVER;
  if (isServerToolOutput(b)) return 'tool';
  if (assistant) return undefined;
  if (isToolBlock(b)) return 'tool';
  if (isTextDocument(b)) return 'document';
  if (isContentDocument(b)) return CONTENT_DOCUMENT;
  return undefined;
}

/** The guard role of a run of `kind` in a message of `role`. */
function roleOfKind(kind: string, role: string): string {
  if (kind === '') return role;
  if (kind === SERVER) return 'tool';
  return kind === CONTENT_DOCUMENT ? 'document' : kind;
}

/** The guard message of a run of blocks of one kind, as `role`. */
function readRun(kind: string, parts: readonly unknown[], role: string): GuardMessage {
  return isNested(kind) ? nestedGuardMessage(role, parts) : guardMessageOf(role, { content: parts });
}

/** A run's blocks with a guard's replacement text written back (`parts` itself when unchanged). */
function writeRun(kind: string, parts: readonly unknown[], text: string): readonly unknown[] {
  return isNested(kind) ? withNestedText(parts, text) : partsOf(withMessageText({ content: parts }, text));
}

/** Whether a message of this role has runs to look for: the user's and the assistant's. */
function splits(role: string): boolean {
  return role === 'user' || role === 'assistant';
}

/**
 * How a user message's content is read: undefined, whole as the user's (no tool result or
 * document in it: the usual message); a role, whole as that role (`tool`: tool results only;
 * `document`: documents only); or, for a message of several kinds, the index where each run
 * after the first starts. One pass and no allocation unless the message has several kinds.
 */
export function toolRuns(content: unknown, assistant = false): string | number[] | undefined {
  if (!Array.isArray(content)) return undefined;
  let first: string | undefined;
  let current: string | undefined;
  let starts: number[] | undefined;
  for (let i = 0; i < content.length; i++) {
    const k = kindOf(content[i], assistant);
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
 * bounds and kind, the kind of its first kinded block (a leading neutral block is the first
 * run's).
 */
function eachRun(
  content: readonly unknown[],
  starts: readonly number[],
  assistant: boolean,
  take: (from: number, to: number, kind: string) => void,
): void {
  let from = 0;
  for (let r = 0; r <= starts.length; r++) {
    const to = r < starts.length ? (starts[r] as number) : content.length;
    let kind: string | undefined;
    for (let i = from; kind === undefined && i < to; i++) kind = kindOf(content[i], assistant);
    take(from, to, kind ?? '');
    from = to;
  }
}

/**
 * The guard messages of a raw Anthropic message list. One pass and one array, as before this
 * split existed, for the usual request (issue 13: no extra allocation per call); a list with a
 * message to cut gets a second array, with that message read as several.
 */
export function guardMessages(raw: readonly unknown[]): GuardMessage[] {
  // The runs of each message to cut (or [] for one read whole beside its citations), by
  // index; allocated only when there is one.
  let cuts: Array<number[] | undefined> | undefined;
  // Sized once, as the map this replaced (growing by push cost ~15 ns a call in the A/B);
  // a message to cut is left empty here and read below.
  const out = new Array<GuardMessage>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const o = asObj(raw[i]);
    const content = o?.content;
    const role = roleOf(o);
    if (splits(role) && Array.isArray(content)) {
      const runs = toolRuns(content, role === 'assistant');
      if (hasCitations(content)) {
        // Its citations' quotes are a `document` message before it (citations.ts).
        cuts ??= [];
        cuts[i] = typeof runs === 'object' ? runs : [];
        continue;
      }
      if (typeof runs === 'string') {
        out[i] = readRun(runs, content, roleOfKind(runs, role));
        continue;
      }
      if (runs !== undefined) {
        cuts ??= [];
        cuts[i] = runs;
        continue;
      }
    }
    out[i] = guardMessageOf(role, o);
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
    const role = roleOf(o);
    if (hasCitations(parts)) all.push(citationsGuardMessage(parts));
    if (starts.length > 0)
      eachRun(parts, starts, role === 'assistant', (from, to, kind) =>
        all.push(readRun(kind, parts.slice(from, to), roleOfKind(kind, role))),
      );
    else all.push(readWhole(o, role));
  }
  return all;
}

/** The guard message of a message of one kind of run (or none): as the first loop of guardMessages reads it. */
function readWhole(o: Obj, role: string): GuardMessage {
  const runs = toolRuns(o.content, role === 'assistant');
  return typeof runs === 'string'
    ? readRun(runs, o.content as unknown[], roleOfKind(runs, role))
    : guardMessageOf(role, o);
}

/**
 * The raw messages with the guards' replacements written back, reading `messages` in the
 * order guardMessages made them; a message whose replacement is missing is kept.
 */
export function withGuardMessages(raw: readonly unknown[], messages: readonly GuardMessage[]): unknown[] {
  let j = 0;
  return raw.map((given) => {
    let m = given;
    let o = asObj(m);
    const role = roleOf(o);
    if (splits(role) && hasCitations(o?.content)) {
      // Its citations' message comes first (guardMessages); the blocks keep their count and text.
      const r = messages[j++];
      const parts = (o as Obj).content as unknown[];
      const written = r === undefined ? parts : withCitationsText(parts, r.content);
      if (written !== parts) {
        o = { ...(o as Obj), content: written };
        m = o;
      }
    }
    const content = o?.content;
    const runs = splits(role) ? toolRuns(content, role === 'assistant') : undefined;
    if (runs === undefined || (typeof runs === 'string' && !isNested(runs))) {
      const r = messages[j++];
      return r === undefined ? m : withMessageText(m, r.content);
    }
    const parts = content as unknown[];
    if (typeof runs === 'string') {
      const r = messages[j++];
      const written = r === undefined ? parts : writeRun(runs, parts, r.content);
      return written === parts ? m : { ...o, content: written };
    }
    let changed = false;
    const next: unknown[] = [];
    eachRun(parts, runs, role === 'assistant', (from, to, kind) => {
      const r = messages[j++];
      const run = parts.slice(from, to);
      const written = r === undefined ? run : writeRun(kind, run, r.content);
      if (written !== run) changed = true;
      // A loop, not push(...written): a run of some 100,000 blocks overflows the call's argument stack.
      for (const block of written) next.push(block);
    });
    return changed ? { ...o, content: next } : m;
  });
}

function roleOf(o: Obj | undefined): string {
  return typeof o?.role === 'string' ? o.role : 'user';
}

function partsOf(message: unknown): readonly unknown[] {
  const c = asObj(message)?.content;
  return Array.isArray(c) ? c : [];
}
