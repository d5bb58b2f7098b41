import { num, str } from './adapter.ts';

/**
 * A Responses `reasoning` item's summary (`summary[].text`, streamed as
 * `response.reasoning_summary_text.delta` / `.done` and repeated in
 * `response.reasoning_summary_part.added` / `.done`, the item's done event and the final
 * response): the model's reasoning, handed to the application, which may show it. An address or
 * the system prompt in it leaves as surely as in the answer. Before, no output guard read it.
 *
 * Read and rewritten as a hosted call's input is (responses-hosted-inputs.ts, tool-arguments.ts):
 * a side text of the answer each, so detect reports a finding in it, block blocks the answer
 * (a stream is held from its first summary piece to the end check) and redact rewrites it whole:
 * the pieces go out empty, the text whole, rewritten, in one delta just before its done event,
 * and the part, item and response that repeat it carry the same rewrite
 * (responses-stream-rewrite.ts). No signature covers a summary's text (the API takes a
 * reasoning item back by its id, or by its `encrypted_content`), unlike an Anthropic thinking
 * block's (anthropic-thinking.ts), so it is rewritten as the answer is.
 *
 * Not read: a reasoning item's `content` (`reasoning_text`, the raw chain of thought some
 * servers stream as `response.reasoning_text.*`; OpenAI's models send none) and its
 * `encrypted_content` (opaque).
 */

/** Each summary entry's `text`, as [holder, field] (the entry is rewritten in place). */
export function reasoningSummaries(summary: unknown, out: Array<[Record<string, unknown>, string]>): void {
  if (!Array.isArray(summary)) return;
  for (const s of summary as unknown[]) {
    if (typeof s !== 'object' || s === null) continue;
    const entry = s as Record<string, unknown>;
    if (typeof entry.text === 'string') out.push([entry, 'text']);
  }
}

/**
 * The key a streamed summary's text has among the stream's tool-call arguments
 * (StreamedArguments): the one its item's done event gives it (`${id}:${n}:text`,
 * openai-responses.ts), so the done item and the terminal response replace the pieces, not
 * add a copy.
 */
export function summaryKey(ev: Record<string, unknown> | undefined): string {
  const id = str(ev?.item_id) ?? `#${num(ev?.output_index) ?? 0}`;
  return `${id}:${num(ev?.summary_index) ?? 0}:text`;
}
