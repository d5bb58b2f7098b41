import { splitByChars } from './slot-chars.ts';
import { STREAM_REWRITER, type StreamRewriter } from './stream-rewriter.ts';
import type { GuardContext, GuardOutput, OutputGuard } from './types.ts';

/**
 * The texts of a complete (non-streamed) response that reach the application, each checked and
 * rewritten on its own: the answer (a chat or completions choice each; a Responses answer's
 * output_text parts, an Anthropic answer's text blocks, read back to back as one) and the text
 * beside it that quotes a source (OpenAI annotations' titles and URLs, Anthropic citations'
 * quotes and titles).
 *
 * Before, the adapters gave the guards one text and wrote a rewrite back into the first slot:
 * a chat answer with n > 1 came back with every choice's redacted text in choice 0 and the
 * others emptied, and annotations and an unchanged block's citations were never read, so an
 * address quoted there reached the application whatever the guard's mode.
 *
 * The output guards still run once per response, on the texts joined with '\n' (the answer's
 * first, as `ResponseSummary.text` holds them, then the side texts): one verdict, one
 * `pii_detected`, block and detect modes seeing the quotes too. A rewrite goes back text by
 * text: when every guard that changed the text has a whole-text rewrite of its own (piiGuard
 * redact: the one its stream uses for the done events), each text is rewritten by it alone, so
 * each choice and each quote is redacted as `redact` would redact it apart; otherwise (a custom
 * guard's `modify`) the joined rewrite is cut back by the texts' line counts when it kept the
 * line count, else at the '\n's it kept, by the text around them (slot-chars.ts): the pieces
 * joined are exactly the guard's text, so nothing it removed is written back, wherever a cut
 * lands (splitJoined).
 *
 * piiGuard's cap is per text: the GuardOutput carries the texts beside their join
 * (OUTPUT_TEXTS below), so a choice padded past the cap does not hide the next one.
 */
export interface OutputTexts {
  /** The answer's texts: one per chat / completions choice; one for Responses and Anthropic. */
  readonly answer: readonly string[];
  /** The quoting texts beside the answer, in a fixed order (`write` takes them in it). */
  readonly side: readonly string[];
  /**
   * How many of the side texts, the last ones, are tool calls' arguments (tool-arguments.ts);
   * absent: none.
   */
  readonly tools?: number;
  /**
   * How many of the side texts, the last ones (after the tool calls' arguments), are the
   * model's reasoning (tool-arguments.ts reasoningSlot); absent: none.
   */
  readonly reasoning?: number;
  /**
   * Where the parts of `answer[0]` meet, when it joins several read back to back (Responses
   * output_text parts, Anthropic text blocks): offsets into it. piiGuard reads the parts apart
   * too (pii-parts.ts), as on the input side: 'jane@example.com' + '42' joins to no address.
   */
  readonly cuts?: readonly number[];
  /**
   * Which side texts (indices into `side`) are audio transcripts (chat-audio.ts): a rewrite of
   * one removes its audio, which piiGuard's event says (`audio_removed`); absent: none.
   */
  readonly audio?: readonly number[];
  /** The response with these texts written back (same lengths and order); may change it in place. */
  write(answer: readonly string[], side: readonly string[]): unknown;
}

/**
 * What the application gets in place of a text a rewriting guard (piiGuard redact) could not
 * rewrite because the rewrite itself failed: the text is withheld, never handed over unchecked.
 */
export const WITHHELD = '[WITHHELD:guard_error]';

/** What the output guards read of `t`: its answer texts, then its side texts, one a line. */
export function guardTextOf(t: OutputTexts): string {
  let out = t.answer.join('\n');
  for (const s of t.side) out += `\n${s}`;
  return out;
}

/**
 * Internal (as STREAM_REWRITER): on the GuardOutput of a complete answer, the texts its `text`
 * joins one a line (guardTextOf), for a built-in guard whose limits are per text. piiGuard's
 * cap (personal data looked for in a text's first `maxChars`) fell on the join: a first choice,
 * or an answer before its quotes, padded past it hid an address in the next choice or a quote
 * from every mode, where a stream's choices each have their own cap.
 */
export const OUTPUT_TEXTS: unique symbol = Symbol('llmsec.outputTexts');

interface TextsView {
  readonly joined: string;
  readonly texts: readonly string[];
  /** How many of `texts`, before the reasoning, are tool calls' arguments. */
  readonly tools: number;
  /** How many of `texts`, the last ones, are the model's reasoning. */
  readonly reasoning: number;
  /** Where the parts of `texts[0]` meet (OutputTexts.cuts). */
  readonly cuts: readonly number[] | undefined;
  /** Which of `texts` (indices) are audio transcripts. */
  readonly audio: readonly number[] | undefined;
}

/**
 * `output` with the texts its text joins (`texts`, whose guardTextOf is `text`): the last
 * `reasoning` of them the model's reasoning, the `tools` before those tool calls' arguments.
 */
export function withOutputTexts<T extends GuardOutput>(
  output: T,
  texts: readonly string[],
  tools = 0,
  cuts?: readonly number[],
  reasoning = 0,
  audio?: readonly number[],
): T {
  // One keyed store of a constant symbol (a cached map transition), not Object.assign of a
  // literal with a computed key: that made a second object and ran the generic builtin on
  // every guarded call (issue 13). Same own enumerable property as before.
  (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS] = {
    joined: output.text,
    texts,
    tools,
    cuts,
    reasoning,
    audio,
  };
  return output;
}

/**
 * Which of the texts outputTextsOf gives (indices) are audio transcripts, whose rewrite removes
 * their audio (chat-audio.ts); empty when none, or when a guard before rewrote the text.
 */
export function audioTranscriptsOf(output: GuardOutput): readonly number[] {
  const v = (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS];
  return v !== undefined && v.joined === output.text && v.audio !== undefined ? v.audio : NONE;
}

const NONE: readonly number[] = [];

/** Where the parts of the first of the texts outputTextsOf gives meet (OutputTexts.cuts); undefined: one part. */
export function answerCutsOf(output: GuardOutput): readonly number[] | undefined {
  const v = (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS];
  return v !== undefined && v.joined === output.text ? v.cuts : undefined;
}

/**
 * How many of the texts outputTextsOf gives, the last ones, are tool calls' arguments (0 when
 * none, or when a guard before rewrote the text), so a guard can say where it found something.
 */
export function toolArgumentsOf(output: GuardOutput): number {
  const v = (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS];
  return v !== undefined && v.joined === output.text ? v.tools : 0;
}

/**
 * How many of the texts outputTextsOf gives, the last ones, are the model's reasoning (after the
 * tool calls' arguments toolArgumentsOf counts; 0 when none, or when a guard before rewrote the text).
 */
export function reasoningOf(output: GuardOutput): number {
  const v = (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS];
  return v !== undefined && v.joined === output.text ? v.reasoning : 0;
}

/**
 * The texts `output.text` joins, when the guard reads what the provider sent (no guard before it
 * rewrote the text: the runner's view keeps the symbol but not the text it was set for).
 */
export function outputTextsOf(output: GuardOutput): readonly string[] | undefined {
  const v = (output as { [OUTPUT_TEXTS]?: TextsView })[OUTPUT_TEXTS];
  return v !== undefined && v.joined === output.text ? v.texts : undefined;
}

/**
 * The texts rewritten after the guard chain changed guardTextOf(t) into `text`; `by`: the guards
 * whose modify made it, in order.
 */
export function rewriteTexts(
  t: OutputTexts,
  text: string,
  by: readonly OutputGuard[],
  ctx: GuardContext,
): { answer: string[]; side: string[] } {
  const all = [...t.answer, ...t.side];
  const rewriters: StreamRewriter[] = [];
  for (const g of by) {
    const r = (g as { [STREAM_REWRITER]?: StreamRewriter })[STREAM_REWRITER];
    if (r === undefined) break;
    rewriters.push(r);
  }
  let out: string[];
  if (by.length > 0 && rewriters.length === by.length) {
    out = all.map((s, i) => {
      let next = s;
      // The answer's parts (t.cuts) are told to the first rewriter, which reads the text as sent.
      for (const r of rewriters)
        if (next.length > 0) next = r.whole(ctx, next, i === 0 && next === s ? t.cuts : undefined);
      return next;
    });
  } else out = splitJoined(all, text);
  return { answer: out.slice(0, t.answer.length), side: out.slice(t.answer.length) };
}

/**
 * `text`, a rewrite of `texts.join('\n')`, cut back into one piece per text. A rewrite with as
 * many lines goes back by the texts' line counts (each text's lines its own: a guard that
 * changes characters within lines, as most do, gives each text exactly its rewrite). Otherwise
 * the '\n's between the texts are slots of their own, placed by the text around them
 * (slot-chars.ts); one the rewrite changed or removed (a change across it) has its piece
 * appended to the text before it. Joined with '\n', the pieces are `text` plus the '\n's the
 * rewrite removed: never any text it removed.
 *
 * The line counts first: by context alone, a text holding line breaks with text repeated near a
 * cut had lines moved into the next text (a legacy completion answering a list of prompts, one
 * an end user's each, handed part of one answer to another), where the line counts are exact.
 */
export function splitJoined(texts: readonly string[], text: string): string[] {
  if (texts.length <= 1) return [text];
  const byLines = splitByLineCounts(texts, text);
  if (byLines !== undefined) return byLines;
  const slots: string[] = [];
  for (const [i, s] of texts.entries()) {
    if (i > 0) slots.push('\n');
    slots.push(s);
  }
  const pieces = splitByChars(slots, text);
  const out: string[] = [];
  for (let j = 0; j < slots.length; j++) {
    const piece = pieces[j] ?? '';
    if (j % 2 === 0) out.push(piece);
    else if (piece !== '\n') out[out.length - 1] += piece.endsWith('\n') ? piece.slice(0, -1) : piece;
  }
  return out;
}

/** `text` cut after each text's line count of lines; undefined when its line count differs. */
function splitByLineCounts(texts: readonly string[], text: string): string[] | undefined {
  let want = texts.length;
  for (const t of texts) want += breaks(t);
  if (breaks(text) + 1 !== want) return undefined;
  const out: string[] = [];
  let from = 0;
  for (const [i, t] of texts.entries()) {
    if (i === texts.length - 1) {
      out.push(text.slice(from));
      break;
    }
    let end = from - 1;
    for (let k = breaks(t); k >= 0; k--) end = text.indexOf('\n', end + 1);
    out.push(text.slice(from, end));
    from = end + 1;
  }
  return out;
}

function breaks(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
