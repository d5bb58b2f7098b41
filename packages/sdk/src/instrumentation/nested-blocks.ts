import { withMessageText } from './message-text.ts';
import type { GuardMessage } from './types.ts';

/**
 * Anthropic blocks whose text sits in nested objects, which message-text.ts does not walk (it
 * reads a block's `text`, a `content` string or block list, a plain-text document's data), so
 * the guards read none of it before. tool-split.ts makes each run of them a guard message of
 * its own, read here by the paths of their text and written back by the same walk.
 *
 * Server tools (web fetch, code execution) run on Anthropic's side and return their result as
 * a block of the assistant's message, which the client resends (role `tool`):
 * - `web_fetch_tool_result`: `content.content`, the fetched page as a document (its text when
 *   `source.type` is `text`: a whole web page, the prime route of indirect injection);
 * - `code_execution_tool_result`, `bash_code_execution_tool_result`: `content.stdout` / `.stderr`;
 * - `text_editor_code_execution_tool_result`: `content.content` (a viewed file's text);
 * - beta `advisor_tool_result`: `content.text` (another model's advice, `advisor_result`);
 * - beta `mcp_tool_listing`: each tool's `description`, the MCP server's words the model reads
 *   (a poisoned description is the MCP tool-poisoning route; openai's mcp_list_tools likewise).
 * The model wrote none of it. `web_search_tool_result` holds only encrypted page content and
 * titles: nothing to read.
 *
 * Custom-content documents (`document` with `source.type: 'content'`, role `document`):
 * `source.content`, a string or text blocks, the document's text as the model reads it.
 *
 * Fixed shapes, no recursion: reading is linear in the block.
 */

type Obj = Record<string, unknown>;
type Path = ReadonlyArray<string | number>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** Whether a block is a server tool's result with text of its own (see above). */
export function isServerResult(b: Obj): boolean {
  switch (b.type) {
    case 'web_fetch_tool_result':
    case 'code_execution_tool_result':
    case 'bash_code_execution_tool_result':
    case 'text_editor_code_execution_tool_result':
    case 'advisor_tool_result':
    case 'mcp_tool_listing':
      return true;
    default:
      return false;
  }
}

/** Whether a block is a custom-content document (`source.type: 'content'`). */
export function isContentDocument(b: Obj): boolean {
  return b.type === 'document' && asObj(b.source)?.type === 'content';
}

/** A text slot: a non-empty string (an empty stderr is no text: read, it would add a separator). */
function isSlot(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** The paths of a nested block's text, in order; none for any other block. */
function pathsOf(b: Obj): Path[] {
  const out: Path[] = [];
  if (isContentDocument(b)) {
    const content = (b.source as Obj).content;
    if (isSlot(content)) out.push(['source', 'content']);
    else if (Array.isArray(content)) {
      for (let i = 0; i < content.length; i++)
        if (isSlot(asObj(content[i])?.text)) out.push(['source', 'content', i, 'text']);
    }
    return out;
  }
  if (b.type === 'mcp_tool_listing') {
    const tools = b.tools;
    if (Array.isArray(tools))
      for (let i = 0; i < tools.length; i++)
        if (isSlot(asObj(tools[i])?.description)) out.push(['tools', i, 'description']);
    return out;
  }
  const c = asObj(b.content);
  if (c === undefined) return out;
  switch (b.type) {
    case 'advisor_tool_result':
      if (c.type === 'advisor_result' && isSlot(c.text)) out.push(['content', 'text']);
      break;
    case 'web_fetch_tool_result': {
      const source = asObj(asObj(c.content)?.source);
      if (source?.type === 'text' && isSlot(source.data)) out.push(['content', 'content', 'source', 'data']);
      break;
    }
    case 'text_editor_code_execution_tool_result':
      if (isSlot(c.content)) out.push(['content', 'content']);
      break;
    case 'code_execution_tool_result':
    case 'bash_code_execution_tool_result':
      if (isSlot(c.stdout)) out.push(['content', 'stdout']);
      if (isSlot(c.stderr)) out.push(['content', 'stderr']);
      break;
  }
  return out;
}

function getPath(value: unknown, path: Path): string {
  let at: unknown = value;
  for (const key of path) at = (at as Record<string | number, unknown>)[key];
  return at as string;
}

/**
 * A copy of a nested block with its texts replaced by `next()`, in pathsOf order, copied along
 * the paths only (the original is not mutated). One copy of each object and list on the way,
 * whatever the number of texts: a document of many text blocks is copied once, not once per
 * block (linear on hostile input).
 */
function rebuild(b: Obj, next: () => string | undefined): Obj {
  if (isContentDocument(b)) {
    const source = b.source as Obj;
    const content = source.content;
    if (isSlot(content)) return { ...b, source: { ...source, content: next() ?? '' } };
    if (!Array.isArray(content)) return b;
    // A text block whose piece is undefined (its text went to a neighbour) is left out, as
    // message-text.ts leaves out a text part: the API refuses empty text blocks.
    const blocks: unknown[] = [];
    for (const block of content) {
      const t = asObj(block);
      if (t === undefined || !isSlot(t.text)) blocks.push(block);
      else {
        const piece = next();
        if (piece !== undefined) blocks.push({ ...t, text: piece });
      }
    }
    return { ...b, source: { ...source, content: blocks } };
  }
  if (b.type === 'mcp_tool_listing') {
    if (!Array.isArray(b.tools)) return b;
    const tools = b.tools.map((t: unknown) => {
      const o = asObj(t);
      return o !== undefined && isSlot(o.description) ? { ...o, description: next() ?? '' } : t;
    });
    return { ...b, tools };
  }
  const c = b.content as Obj;
  if (b.type === 'advisor_tool_result') return { ...b, content: { ...c, text: next() ?? '' } };
  if (b.type === 'web_fetch_tool_result') {
    const doc = c.content as Obj;
    return {
      ...b,
      content: { ...c, content: { ...doc, source: { ...(doc.source as Obj), data: next() ?? '' } } },
    };
  }
  if (b.type === 'text_editor_code_execution_tool_result')
    return { ...b, content: { ...c, content: next() ?? '' } };
  const out: Obj = { ...c };
  if (isSlot(c.stdout)) out.stdout = next() ?? '';
  if (isSlot(c.stderr)) out.stderr = next() ?? '';
  return { ...b, content: out };
}

/**
 * The text slots of blocks, in order, and for each whether it is read right after the one
 * before it: a custom-content document's text blocks side by side (only text blocks, empty
 * ones included, between them) are read back to back, as message-text.ts reads text parts (an
 * injection cut over two of them walked past the guards with '\n' between); every other
 * slot is read apart, after a newline.
 */
function slotsOf(blocks: readonly unknown[]): { slots: string[]; joined: boolean[] } {
  const slots: string[] = [];
  const joined: boolean[] = [];
  for (const block of blocks) {
    const b = asObj(block);
    if (b === undefined) continue;
    const list = isContentDocument(b) ? (b.source as Obj).content : undefined;
    let prev = -1;
    for (const path of pathsOf(b)) {
      slots.push(getPath(b, path));
      const i = Array.isArray(list) ? (path[2] as number) : -1;
      let side = prev >= 0 && i >= 0;
      // Each index between two slots of one list is looked at once: linear in the list.
      for (let k = prev + 1; side && k < i; k++)
        side = typeof asObj((list as unknown[])[k])?.text === 'string';
      joined.push(side);
      prev = i;
    }
  }
  return { slots, joined };
}

function joinSlots(slots: readonly string[], joined: readonly boolean[]): string {
  let out = '';
  for (let k = 0; k < slots.length; k++)
    out = k === 0 ? (slots[k] as string) : out + (joined[k] ? '' : '\n') + slots[k];
  return out;
}

/** The text of nested blocks in order: text blocks side by side back to back, other slots after a newline. */
export function nestedText(blocks: readonly unknown[]): string {
  const { slots, joined } = slotsOf(blocks);
  return joinSlots(slots, joined);
}

/** The guard message of nested blocks: `role`, nestedText and the cuts between text blocks read back to back (as guardMessageOf). */
export function nestedGuardMessage(role: string, blocks: readonly unknown[]): GuardMessage {
  const { slots, joined } = slotsOf(blocks);
  const content = joinSlots(slots, joined);
  const cuts: number[] = [];
  for (let k = 1, at = (slots[0] ?? '').length; k < slots.length; k++) {
    if (joined[k]) cuts.push(at);
    at += (joined[k] ? 0 : 1) + (slots[k] as string).length;
  }
  return cuts.length > 0 ? { role, content, cuts } : { role, content };
}

/**
 * The blocks with `text` (a guard's replacement for nestedText(blocks)) written back, cut as
 * message-text.ts cuts a message's slots (by lines, each redaction in its own slot; a run of
 * text blocks by the text around each cut), as copies; `blocks` itself when nothing changed.
 */
export function withNestedText(blocks: readonly unknown[], text: string): readonly unknown[] {
  const { slots, joined } = slotsOf(blocks);
  if (slots.length === 0 || joinSlots(slots, joined) === text) return blocks;
  // The slots as parts of a stand-in message, each with its index: a run as text parts side
  // by side (read back to back), a null between two text parts not read so, any other slot a
  // string part (read apart). A text part whose piece is undefined is left out of the result.
  const parts: unknown[] = [];
  slots.forEach((s, k) => {
    const run = joined[k] === true || joined[k + 1] === true;
    if (run && !joined[k] && k > 0) parts.push(null);
    parts.push(run ? { text: s, k } : { content: s, k });
  });
  const standIn = withMessageText({ content: parts }, text);
  const pieces: Array<string | undefined> = new Array<string | undefined>(slots.length);
  for (const p of asObj(standIn)?.content as unknown[]) {
    const o = asObj(p);
    if (o !== undefined) pieces[o.k as number] = typeof o.text === 'string' ? o.text : String(o.content);
  }
  let at = 0;
  const next = (): string | undefined => pieces[at++];
  return blocks.map((block) => {
    const b = asObj(block);
    return b === undefined || pathsOf(b).length === 0 ? block : rebuild(b, next);
  });
}
