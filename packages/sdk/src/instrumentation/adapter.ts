import type { KeptText } from './kept-text.ts';
import type { OutputTexts } from './output-texts.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import type { GuardInput, GuardMessage, OperationName, ProviderName } from './types.ts';

/**
 * What the call runtime needs to know about one client method: how to read its request and
 * response (plain and streamed) in a provider-independent form, and how to write a guard's
 * modification back. One adapter per method keeps provider quirks out of the runtime.
 */

export type Body = Record<string, unknown>;

export interface ResponseSummary {
  id?: string;
  model?: string;
  finishReasons: string[];
  inputTokens?: number;
  outputTokens?: number;
  text: string;
  toolCalls: string[];
  /**
   * Streams: the quoting texts beside the answer (Anthropic citations' quotes and titles,
   * Responses annotations' titles and URLs), which the end checks read after the text, one a
   * line, as a complete response's are read (output-texts.ts guardTextOf).
   */
  side?: string[];
  /**
   * Chat streams: how many of the side texts, the last ones, are audio transcripts
   * (chat-audio.ts), whose rewrite removes their audio; absent: none.
   */
  transcripts?: number;
  /**
   * Streams of several choices: each one's text, which `text` joins one a line (the end checks
   * give them to a guard whose limits are per text: output-texts.ts OUTPUT_TEXTS).
   */
  texts?: string[];
  /**
   * Streams: each tool call's arguments as streamed (tool-arguments.ts), which the end checks
   * read after the side texts.
   */
  toolArguments?: string[];
  /**
   * Streams: the model's reasoning as streamed (a Responses reasoning item's summary and content,
   * chat `reasoning_content` / `reasoning`, Anthropic thinking), which the end checks read after
   * the tool calls' arguments, as it came (tool-arguments.ts reasoningSlot).
   */
  reasoning?: string[];
  /**
   * Streams of one text joining several parts (Responses output_text parts, Anthropic text
   * blocks): where they meet in `text` (output-texts.ts OutputTexts.cuts), for the end check.
   */
  cuts?: number[];
  /**
   * A complete response without an output token count: the characters of its output texts
   * (answer, side texts, tool arguments), read before the guards rewrite them, which the
   * rate-limit lease settles on (lease.ts outputChars).
   */
  outputChars?: number;
  /**
   * A stream without output guards whose texts ran past the telemetry's cap (kept-text.ts
   * MAX_TELEMETRY_TEXT_CHARS): its texts here are what was kept, and this counts the characters
   * of its output texts (answer, side texts, tool arguments; not reasoning) read and not kept,
   * which the lease's output estimate adds (lease.ts outputChars). Absent: nothing was left out.
   */
  droppedChars?: number;
}

/** Folds stream items into a summary; `observe` returns the text the item adds ('' if none). */
export interface StreamAccumulator {
  observe(item: unknown): string;
  summary(): ResponseSummary;
  /** True once the provider's terminal item arrived (a stream that ends without it was cut). */
  readonly complete: boolean;
  /**
   * The stream's text so far while it is exactly every delta `observe` returned, joined: the
   * string `summary().text` will be. Undefined once it is not (chat with n > 1), and from
   * adapters that do not keep it. The chunk checks then read this string rather than a second
   * copy of it (call-stream.ts), so the end checks get the same object the chunk checks read.
   */
  readonly text?: string | undefined;
  /**
   * The quotes beside the answer read so far (the side texts `observe` collected: annotations'
   * titles and URLs, citations' quotes), one list that grows as items come. The stream checks a
   * quote an item added before that item reaches the reader (call-stream.ts quoteChecked).
   * Absent: the adapter's stream items carry no quotes.
   */
  readonly quotes?: readonly string[] | undefined;
  /**
   * True once the stream carried text that neither the chunk checks nor the quote checks read
   * before delivery, but the end check does (a refusal's pieces, a Responses part repeated with
   * text its deltas did not carry: responses-repeats.ts): on a stream whose guards block before
   * delivery, the items from there on are held until the end checks pass (call-stream.ts).
   */
  readonly unchecked?: boolean;
}

export interface ProviderAdapter {
  readonly provider: ProviderName;
  readonly operation: OperationName;
  /** Method id for diagnostics, e.g. `openai.chat.completions.create`. */
  readonly method: string;
  /** Whether input / output guards apply (embeddings: no output to guard). */
  readonly guarded: boolean;
  guardInput(body: Body): GuardInput;
  /** A new body carrying the modified texts; never mutates `body`. */
  applyInput(body: Body, messages: GuardMessage[] | undefined, system: string | undefined): Body;
  isStream(body: Body): boolean;
  /**
   * A complete response read. `kept`: the call's cap on the answer's joined text (kept-text.ts),
   * the summary's copy beside the body: without output guards past 1 Mi characters the rest is
   * left out and counted in `droppedChars`, with guards past 32 Mi it throws StreamLimitError
   * (call-response.ts blocks the response). Absent: joined whole.
   */
  readResponse(data: unknown, kept?: KeptText): ResponseSummary;
  /** The response with its text replaced (same object kind); may return `data` unchanged. */
  applyOutput(data: unknown, text: string): unknown;
  /**
   * The response's texts, each checked and rewritten on its own (choices, quotes beside the
   * answer: output-texts.ts); when present, used instead of readResponse's text and applyOutput.
   * `body`: the request as the application made it.
   */
  outputTexts?(data: unknown, body: Body): OutputTexts | undefined;
  /**
   * `body`: the request as the application made it (legacy completions' `echo` reads it).
   * `guarded` (default true): output guards read the stream, so past a cap on per-part state
   * (stream-limit.ts) the stream is cut; false: no guard reads it, so the extra parts are only
   * left out of the summary (the telemetry's text) and the application's stream goes on.
   */
  newStream(body?: Body, guarded?: boolean): StreamAccumulator;
  /**
   * Streams: the item with its text rewritten, for a guard that rewrites a stream (piiGuard
   * redact): each piece of text `newStream().observe` reads from it through `rw.next`, in the
   * same order; text it repeats whole (done events, the final response) through `rw.whole`.
   * May change the item in place. Absent: the stream's items are not rewritten.
   */
  rewriteStreamItem?(item: unknown, rw: StreamItemRewrite): unknown;
  /**
   * Streams of several texts interleaved (OpenAI chat with `n` > 1): how the item's delta (what
   * `observe` returned) splits into them, `[lane, length]` in order; undefined when it is all
   * lane 0's. `rewriteStreamItem` passes each piece's lane to `rw.next`.
   */
  streamLanes?(item: unknown): ReadonlyArray<readonly [number, number]> | undefined;
}

// --- small readers shared by the adapters ---

export function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Usage as a token count: a non-negative safe integer, else nothing. The provider's numbers (or
 * a proxy's in front of it) are read once here, as the detector reads a GenAI span's
 * (genai-span.ts `toCount`): a negative, fractional or unsafe count would reach the event, the
 * span and the token baselines as it came.
 */
export function usageAsCounts(s: ResponseSummary): void {
  if (s.inputTokens !== undefined && !isCount(s.inputTokens)) s.inputTokens = undefined;
  if (s.outputTokens !== undefined && !isCount(s.outputTokens)) s.outputTokens = undefined;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Text of a content value: a string, or the `text` of each part of a list. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  let out = '';
  for (const part of arr(content)) {
    const t = obj(part)?.text;
    if (typeof t === 'string') out += out.length > 0 ? `\n${t}` : t;
  }
  return out;
}

/**
 * Names of declared tools, as toolAllowlistGuard checks them: OpenAI chat
 * `{type:'function', function:{name}}` and `{type:'custom', custom:{name}}` (a custom tool is
 * run by the application as a function is), Responses and Anthropic `{name}`. A Responses
 * `namespace` is the names of its tools (what the model calls; the namespace's own name is
 * not a tool), and a tool with no name of its own is its `type`: `local_shell`, `shell`,
 * `apply_patch` (run by the application), `mcp` (a server the request names gets the
 * conversation), `web_search` and the other hosted tools. Unseen, a client choosing the
 * request's tools declared any of them past the allowlist.
 */
export function toolNames(tools: unknown): string[] {
  const out: string[] = [];
  for (const t of arr(tools)) {
    const o = obj(t);
    if (o?.type === 'namespace' && Array.isArray(o.tools)) {
      // One level: a namespace holds functions and custom tools, not namespaces.
      for (const inner of o.tools) {
        const name = str(obj(inner)?.name);
        if (name !== undefined) out.push(name);
      }
      continue;
    }
    // Every name the tool gives, not the first: the API reads the one its type says, and a
    // tool naming a listed function beside its custom name was read as the listed one.
    const names = [str(obj(o?.function)?.name), str(obj(o?.custom)?.name), str(o?.name)];
    let named = false;
    for (const name of names) {
      if (name === undefined) continue;
      out.push(name);
      named = true;
    }
    // Anthropic's mcp_toolset lists an MCP server's tools: 'mcp', as the server (mcp_servers) is.
    const type = o?.type === 'mcp_toolset' ? 'mcp' : str(o?.type);
    if (!named && type !== undefined) out.push(type);
  }
  return out;
}

/**
 * The tools a chat tool call names: a function's `function.name`, a custom tool's `custom.name`
 * (run by the application as a function is, so toolAllowlistGuard must see it). Both when both
 * are there, as toolNames reads a declared tool: the first only, a call naming a listed function
 * beside its custom name was read as the listed one.
 */
export function toolCallNames(call: unknown): string[] {
  const c = obj(call);
  const out: string[] = [];
  for (const name of [str(obj(c?.function)?.name), str(obj(c?.custom)?.name)])
    if (name !== undefined) out.push(name);
  return out;
}

export function emptySummary(): ResponseSummary {
  return { finishReasons: [], text: '', toolCalls: [] };
}
