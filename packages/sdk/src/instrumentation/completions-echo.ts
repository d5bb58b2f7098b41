import { num, type Body } from './adapter.ts';

/**
 * Legacy completions with `echo: true`: each choice's text starts with its prompt (the
 * request's, choice i answering prompt floor(i / n) of a list). That prompt is the user's input,
 * read by the input guards: read as output too it was reported twice (detect), blocked as the
 * response's (block, on the output side only) and rewritten (redact). So it is left out of what
 * the output guards read and rewrite, when the choice starts with it as the application sent
 * it; a prompt the input guards rewrote is echoed rewritten, does not match, and is read as
 * output (it holds no finding left by the guard that rewrote it).
 *
 * Complete answers: `echoLength`. Streams: `EchoStream` reads each choice's first characters
 * against its prompt as the chunks come (the echo may be cut anywhere, the choices' chunks
 * interleaved) and marks, on each chunk's choice object, how many leading characters of its
 * text are echo (`echoMark`), so the accumulator's text, the lanes and the item rewrite all
 * skip the same characters. Before, a streamed echo was read as output.
 */

/** The prompt's strings: a string, or a list's strings; token-id prompts give none. */
export function promptTexts(prompt: unknown): string[] {
  if (typeof prompt === 'string') return [prompt];
  if (!Array.isArray(prompt) || !prompt.every((p) => typeof p === 'string')) return [];
  return prompt as string[];
}

/** How many leading characters of a complete choice's text are its echoed prompt. */
export function echoLength(body: Body | undefined, choice: Record<string, unknown>, i: number): number {
  if (body?.echo !== true) return 0;
  const prompts = promptTexts(body.prompt);
  const n = num(body.n) ?? 1;
  const index = num(choice.index) ?? i;
  const prompt = prompts.length === 1 ? prompts[0] : prompts[Math.floor(index / Math.max(1, n))];
  return prompt !== undefined && prompt.length > 0 && (choice.text as string).startsWith(prompt)
    ? prompt.length
    : 0;
}

/**
 * Per streamed chunk's choice object (the client's parsed item), one mark in one map (a chunk
 * pays one lookup, as before the replay): a number, its leading echo characters; a string,
 * where the choice's echo departed from its prompt, the prompt's characters matched before
 * (delivered in earlier chunks, not read then), read now in front of this chunk's text.
 */
const marks = new WeakMap<object, number | string>();

/** The choice's mark (echoed characters or the replayed prefix); undefined: none. */
export function echoMark(choice: object | undefined): number | string | undefined {
  return choice === undefined ? undefined : marks.get(choice);
}

/**
 * The text this streamed choice adds to what the output guards read: its `text` without the
 * leading echo, or with the replayed prefix in front (completionLanes, the accumulator and the
 * item rewrite read the same characters).
 */
export function readText(choice: object | undefined, text: string): string {
  const m = echoMark(choice);
  if (m === undefined) return text;
  return typeof m === 'number' ? text.slice(m) : m + text;
}

/** One stream's echo reading: per choice, how much of its prompt has been matched. */
export class EchoStream {
  private readonly prompts: readonly string[];
  private readonly n: number;
  /** Choice index -> characters of its prompt echoed so far; -1: its echo is over. */
  private readonly matched = new Map<number, number>();

  /** Undefined when the request asked for no echo (or has no prompt strings). */
  static of(body: Body | undefined): EchoStream | undefined {
    if (body?.echo !== true) return undefined;
    const prompts = promptTexts(body.prompt);
    return prompts.length === 0 ? undefined : new EchoStream(prompts, Math.max(1, num(body.n) ?? 1));
  }

  private constructor(prompts: readonly string[], n: number) {
    this.prompts = prompts;
    this.n = n;
  }

  /**
   * The chunk's `choice` (index `index`, text `text`): marks and returns how many leading
   * characters of `text` are echo. Only the request's choices (index below prompts x n) are
   * tracked, so a hostile stream's indexes cannot grow the map; a piece that departs from the
   * prompt ends that choice's echo and is read as output with the prompt's characters matched
   * before it (marked on the choice: echoMark), as the non-streamed path reads a choice that
   * does not start with its whole prompt. Before, the matched part stayed skipped, so an
   * address straddling the divergence point was read only from it on (half of it: missed).
   */
  take(choice: object, index: number, text: string): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.prompts.length * this.n) return 0;
    const at = this.matched.get(index) ?? 0;
    if (at < 0) return 0;
    const prompt = this.prompts.length === 1 ? this.prompts[0] : this.prompts[Math.floor(index / this.n)];
    if (prompt === undefined || prompt.length === 0) {
      this.matched.set(index, -1);
      return 0;
    }
    const k = Math.min(text.length, prompt.length - at);
    if (!prompt.startsWith(k === text.length ? text : text.slice(0, k), at)) {
      this.matched.set(index, -1);
      if (at > 0) marks.set(choice, prompt.slice(0, at));
      return 0;
    }
    this.matched.set(index, at + k >= prompt.length ? -1 : at + k);
    if (k > 0) marks.set(choice, k);
    return k;
  }

  /**
   * Choices whose echo is still partial (the stream ended inside it, before the whole prompt
   * came or anything departed from it): index and the prompt's characters matched, delivered
   * and not read. Only the whole prompt's exact echo is not output, so the end check reads them.
   */
  pending(): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    for (const [index, at] of this.matched) {
      if (at <= 0) continue;
      const prompt = this.prompts.length === 1 ? this.prompts[0] : this.prompts[Math.floor(index / this.n)];
      if (prompt !== undefined) out.push([index, prompt.slice(0, at)]);
    }
    return out;
  }
}
