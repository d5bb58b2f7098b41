import { withMessageText } from './message-text.ts';

/**
 * Anthropic server tools (web fetch, code execution) run on Anthropic's side and return their
 * result as a block of the assistant's message, which the client resends with the history:
 * - `web_fetch_tool_result`: `content.content`, the fetched page as a document (its text when
 *   `source.type` is `text`: a whole web page, the prime route of indirect injection);
 * - `code_execution_tool_result`, `bash_code_execution_tool_result`: `content.stdout` / `.stderr`;
 * - `text_editor_code_execution_tool_result`: `content.content` (a viewed file's text).
 * The model wrote none of it, and message-text.ts reads none of it (the content is an object,
 * not a string or a block list), so the guards saw none of it, and what they might have seen
 * sat in an assistant message, which they skip as the model's. tool-split.ts makes each run of
 * these blocks its own `tool` message, read and written back here. `web_search_tool_result`
 * holds only encrypted page content and titles: nothing to read.
 *
 * Fixed shapes, no recursion: reading is linear in the block.
 */

type Obj = Record<string, unknown>;

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

/** A text slot: a non-empty string (an empty stderr is no text: read, it would add a separator). */
function isSlot(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** The [holder, key] pairs of a server result block's text, in order. */
function places(b: Obj): Array<[Obj, string]> {
  const c = asObj(b.content);
  if (c === undefined) return [];
  const out: Array<[Obj, string]> = [];
  if (b.type === 'web_fetch_tool_result') {
    const source = asObj(asObj(c.content)?.source);
    if (source?.type === 'text' && isSlot(source.data)) out.push([source, 'data']);
  } else if (b.type === 'text_editor_code_execution_tool_result') {
    if (isSlot(c.content)) out.push([c, 'content']);
  } else {
    if (isSlot(c.stdout)) out.push([c, 'stdout']);
    if (isSlot(c.stderr)) out.push([c, 'stderr']);
  }
  return out;
}

/** The text of server result blocks, joined with '\n' in order. */
export function serverResultsText(blocks: readonly unknown[]): string {
  const texts: string[] = [];
  for (const block of blocks) {
    const b = asObj(block);
    if (b !== undefined) for (const [holder, key] of places(b)) texts.push(holder[key] as string);
  }
  return texts.join('\n');
}

/**
 * The blocks with `text` (a guard's replacement for serverResultsText(blocks)) written back,
 * cut as message-text.ts cuts a message's slots (by lines, each redaction in its own slot), as
 * copies (the originals are not mutated); `blocks` itself when nothing changed.
 */
export function withServerResultsText(blocks: readonly unknown[], text: string): readonly unknown[] {
  const slots: string[] = [];
  for (const block of blocks) {
    const b = asObj(block);
    if (b !== undefined) for (const [holder, key] of places(b)) slots.push(holder[key] as string);
  }
  if (slots.length === 0 || slots.join('\n') === text) return blocks;
  // The slots as string parts of a stand-in message, which keeps one string per slot.
  const standIn = withMessageText({ content: slots.map((s) => ({ content: s })) }, text);
  const pieces = (asObj(standIn)?.content as Obj[]).map((p) => String(p.content));
  let at = 0;
  return blocks.map((block) => {
    const b = asObj(block);
    const n = b === undefined ? 0 : places(b).length;
    if (n === 0) return block;
    const out = withTexts(b as Obj, pieces.slice(at, at + n));
    at += n;
    return out;
  });
}

/** A copy of a server result block (copied along the path to its text only) with its texts replaced, in places() order. */
function withTexts(b: Obj, texts: readonly string[]): Obj {
  const c = asObj(b.content) as Obj;
  let at = 0;
  const next = (): string => texts[at++] ?? '';
  if (b.type === 'web_fetch_tool_result') {
    const doc = asObj(c.content) as Obj;
    return { ...b, content: { ...c, content: { ...doc, source: { ...asObj(doc.source), data: next() } } } };
  }
  const content: Obj = { ...c };
  if (b.type === 'text_editor_code_execution_tool_result') content.content = next();
  else {
    if (isSlot(c.stdout)) content.stdout = next();
    if (isSlot(c.stderr)) content.stderr = next();
  }
  return { ...b, content };
}
