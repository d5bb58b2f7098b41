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
 * text are echo (`echoedChars`), so the accumulator's text, the lanes and the item rewrite all
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

/** Per streamed chunk's choice object (the client's parsed item): its leading echo characters. */
const echoed = new WeakMap<object, number>();

/** How many leading characters of this streamed choice's `text` are echo (EchoStream marked them). */
export function echoedChars(choice: object | undefined): number {
  return choice === undefined ? 0 : (echoed.get(choice) ?? 0);
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
   * prompt ends that choice's echo (the rest is read as output, as a non-matching echo is).
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
      return 0;
    }
    this.matched.set(index, at + k >= prompt.length ? -1 : at + k);
    if (k > 0) echoed.set(choice, k);
    return k;
  }
}
