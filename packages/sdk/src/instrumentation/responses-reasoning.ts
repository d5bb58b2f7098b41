import { num, str } from './adapter.ts';
import { valueText, type ArgumentSlot } from './tool-arguments.ts';

/**
 * A Responses `reasoning` item's texts: its summary (`summary[].text`, streamed as
 * `response.reasoning_summary_text.delta` / `.done` and repeated in
 * `response.reasoning_summary_part.added` / `.done`) and its content (`content[]` parts of type
 * `reasoning_text`, the raw chain of thought some servers send, e.g. open-weight models behind
 * OpenAI-compatible servers; streamed as `response.reasoning_text.delta` / `.done` and repeated
 * in `response.content_part.added` / `.done`), each repeated in the item's done event and the
 * final response. The model's reasoning, handed to the application, which may show it: an
 * address or the system prompt in it leaves as surely as in the answer. Before, no output guard
 * read the content (nor, until a6c3071, the summary), and a finding in the summary was reported
 * as found in `tool_arguments`.
 *
 * Read as the model's reasoning (tool-arguments.ts reasoningSlot: a side text of the answer after
 * the tool inputs, reported as found in `reasoning`), so detect reports a finding in it, block
 * blocks the answer (a stream is held from its first reasoning piece to the end check) and
 * redact rewrites it whole: the pieces go out empty, the text whole, rewritten, in one delta just
 * before its done event, and the part, item and response that repeat it carry the same rewrite
 * (responses-stream-rewrite.ts). No signature covers these texts (the API takes a reasoning item
 * back by its id, or by its `encrypted_content`), unlike an Anthropic thinking block's
 * (anthropic-thinking.ts), so they are rewritten as the answer is.
 *
 * A text that is not a string (an array, an object, a number: not the API's shape, but a server
 * may send it) is read as its JSON text (valueText, as output_text parts and tool-call arguments
 * are): what an application that stringifies it shows. Before, it was neither read nor touched,
 * and an address in it passed detect, block and redact, plain and streamed. A rewrite that
 * changes it writes a string there; one that leaves it unchanged leaves it as sent.
 *
 * Not read: its `encrypted_content` (opaque).
 */

/** One reasoning text: its holder and field (rewritten in place) and its key in the item. */
export type ReasoningText = [holder: Record<string, unknown>, field: string, key: string];

/**
 * The item's summary entries' and `reasoning_text` parts' `text` (any value but null or
 * absent), each keyed by its own index (`s0`, `c1`), as the stream's events name it (summaryKey,
 * contentKey): an entry without text takes no place of another's. Empty for any other item.
 */
export function reasoningTexts(item: Record<string, unknown> | undefined): ReasoningText[] {
  const out: ReasoningText[] = [];
  if (item?.type !== 'reasoning') return out;
  listed(item.summary, 's', undefined, out);
  listed(item.content, 'c', 'reasoning_text', out);
  return out;
}

function listed(list: unknown, prefix: string, type: string | undefined, out: ReasoningText[]): void {
  if (!Array.isArray(list)) return;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as unknown;
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if ((type === undefined || e.type === type) && e.text != null) out.push([e, 'text', `${prefix}${i}`]);
  }
}

/**
 * A reasoning text as the guards read it (valueText: a string itself, no copy; another value its
 * JSON text); undefined for ''.
 */
export function reasoningRead(r: ReasoningText): string | undefined {
  const read = valueText(r[0][r[1]]);
  return read === undefined || read.length === 0 ? undefined : read;
}

/**
 * A complete response's reasoning item's texts as slots of kind `reasoning` (as
 * tool-arguments.ts reasoningSlot, read by valueText): a rewrite is written only when it
 * differs, so a value that is not a string and stays clean is left as sent.
 */
export function reasoningSlots(item: Record<string, unknown> | undefined, out: ArgumentSlot[]): void {
  for (const r of reasoningTexts(item)) {
    const read = reasoningRead(r);
    if (read === undefined) continue;
    const [holder, field] = r;
    out.push({
      read,
      kind: 'reasoning',
      write(next) {
        if (next !== read) holder[field] = next;
      },
    });
  }
}

/** The key of a reasoning item's text in the stream: its item (id, else output index) and `key`. */
export function reasoningKey(
  item: Record<string, unknown> | undefined,
  outputIndex: unknown,
  key: string,
): string {
  return `${str(item?.id) ?? `#${num(outputIndex) ?? 0}`}:${key}`;
}

/** The key of a streamed summary's text (its `summary_index`), as reasoningTexts keys it in its item. */
export function summaryKey(ev: Record<string, unknown> | undefined): string {
  const id = str(ev?.item_id) ?? `#${num(ev?.output_index) ?? 0}`;
  return `${id}:s${num(ev?.summary_index) ?? 0}`;
}

/** The key of a streamed reasoning_text part (its `content_index`), as reasoningTexts keys it. */
export function contentKey(ev: Record<string, unknown> | undefined): string {
  const id = str(ev?.item_id) ?? `#${num(ev?.output_index) ?? 0}`;
  return `${id}:c${num(ev?.content_index) ?? 0}`;
}
