import { withMessageText } from './message-text.ts';

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
 * - `text_editor_code_execution_tool_result`: `content.content` (a viewed file's text).
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
  const c = asObj(b.content);
  if (c === undefined) return out;
  switch (b.type) {
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
function rebuild(b: Obj, next: () => string): Obj {
  if (isContentDocument(b)) {
    const source = b.source as Obj;
    const content = source.content;
    if (isSlot(content)) return { ...b, source: { ...source, content: next() } };
    if (!Array.isArray(content)) return b;
    const blocks = content.map((block: unknown) => {
      const t = asObj(block);
      return t !== undefined && isSlot(t.text) ? { ...t, text: next() } : block;
    });
    return { ...b, source: { ...source, content: blocks } };
  }
  const c = b.content as Obj;
  if (b.type === 'web_fetch_tool_result') {
    const doc = c.content as Obj;
    return { ...b, content: { ...c, content: { ...doc, source: { ...(doc.source as Obj), data: next() } } } };
  }
  if (b.type === 'text_editor_code_execution_tool_result')
    return { ...b, content: { ...c, content: next() } };
  const out: Obj = { ...c };
  if (isSlot(c.stdout)) out.stdout = next();
  if (isSlot(c.stderr)) out.stderr = next();
  return { ...b, content: out };
}

/** The text slots of blocks, in order. */
function slotsOf(blocks: readonly unknown[]): string[] {
  const slots: string[] = [];
  for (const block of blocks) {
    const b = asObj(block);
    if (b !== undefined) for (const path of pathsOf(b)) slots.push(getPath(b, path));
  }
  return slots;
}

/** The text of nested blocks, joined with '\n' in order. */
export function nestedText(blocks: readonly unknown[]): string {
  return slotsOf(blocks).join('\n');
}

/**
 * The blocks with `text` (a guard's replacement for nestedText(blocks)) written back, cut as
 * message-text.ts cuts a message's slots (by lines, each redaction in its own slot), as copies;
 * `blocks` itself when nothing changed.
 */
export function withNestedText(blocks: readonly unknown[], text: string): readonly unknown[] {
  const slots = slotsOf(blocks);
  if (slots.length === 0 || slots.join('\n') === text) return blocks;
  // The slots as string parts of a stand-in message, which keeps one string per slot.
  const standIn = withMessageText({ content: slots.map((s) => ({ content: s })) }, text);
  const pieces = (asObj(standIn)?.content as Obj[]).map((p) => String(p.content));
  let at = 0;
  const next = (): string => pieces[at++] ?? '';
  return blocks.map((block) => {
    const b = asObj(block);
    return b === undefined || pathsOf(b).length === 0 ? block : rebuild(b, next);
  });
}
