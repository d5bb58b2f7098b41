import { KeptMap } from './kept-map.ts';
import type { KeptText } from './kept-text.ts';
import type { OutputTexts } from './output-texts.ts';
import { StreamLimitError } from './stream-limit.ts';

/**
 * The arguments of the tool calls in a model's answer, as texts the output guards read (chat
 * `tool_calls[].function.arguments` / `custom.input` and the legacy `function_call.arguments`,
 * Responses `function_call` / `custom_tool_call` items, Anthropic `tool_use.input`). A model
 * can put what the guards keep out of its text (an address, the system prompt) into a tool
 * call's arguments: the application runs the tool with them, often sending them on (a mail, a
 * ticket, a search query). Before, no output guard read them.
 *
 * They are side texts of the answer (output-texts.ts), after the quotes, each apart, so each is
 * under piiGuard's per-text cap and the guards' one verdict covers them. What is read is what
 * the model emitted: the arguments' JSON text as sent (Anthropic's `input`, which the API sends
 * as an object, as JSON.stringify writes it), with its `\uXXXX` escapes read as their
 * characters (`jane\u0040x.com` is the address the application parses) and the letter of a
 * newline or tab escape as a space (readableJson).
 *
 * A rewrite (piiGuard redact) is made in the JSON text: a placeholder inside a JSON string keeps
 * it JSON (`"[REDACTED:email]"`: no quote or backslash in it), one in place of a number or
 * across a quote does not (`{"card":4111111111111111}` → `{"card":[REDACTED:credit_card]}`). Such
 * a rewrite is not written: the response is blocked (UnwritableArguments, filter
 * `tool_arguments`), since arguments that are no longer JSON break the application's tool call
 * (it parses them) and the unredacted ones must not go out. Decoding the JSON and redacting its
 * strings was not chosen: numbers past 2^53 come back other digits (a card number is 16), so a
 * rewrite would change values the guard found nothing in. Arguments that were not JSON as sent
 * (a custom tool's free text, a model's broken JSON) are written as rewritten.
 */

/** The filter an OutputBlockedError names when redacted tool arguments would not be JSON. */
export const TOOL_ARGUMENTS_FILTER = 'tool_arguments';

/**
 * A write-back of tool arguments whose rewrite is not JSON where the original was, or of text
 * that cannot be rewritten at all (an Anthropic thinking block: anthropic-thinking.ts): the
 * answer is blocked, the `filter` and `reason` named in its OutputBlockedError.
 */
export class UnwritableArguments extends Error {
  readonly filter: string;
  readonly reason: string;
  constructor(
    filter: string = TOOL_ARGUMENTS_FILTER,
    reason = 'the redacted tool-call arguments would not be JSON',
  ) {
    super(reason);
    this.name = 'UnwritableArguments';
    this.filter = filter;
    this.reason = reason;
  }
}

/** One tool call's arguments: the text read and how a rewrite of it is written back. */
export interface ArgumentSlot {
  readonly read: string;
  /**
   * `reasoning`: the model's reasoning, not a tool's input (a Responses reasoning item's texts:
   * responses-reasoning.ts; a chat message's reasoning: chat-reasoning.ts; an Anthropic thinking
   * block: anthropic-thinking.ts), read after the tool inputs and reported as found in
   * `reasoning`. Absent: a tool call's (or a hosted or executor tool's) input.
   */
  readonly kind?: 'reasoning';
  /** Writes `next` (a rewrite of `read`) back; throws UnwritableArguments when it cannot. */
  write(next: string): void;
}

/**
 * Tool-call arguments as the guards read them: a string as it is (no copy: the API's shape),
 * any other value but null or absent its JSON text (jsonText, as Anthropic's tool_use.input).
 * Some servers send a chat call's `function.arguments` parsed (an object); an application that
 * stringifies it runs the tool with what is in it. Before, such arguments were neither read nor
 * touched: an address in `arguments: {to: 'jane@example.com'}` passed detect, block and redact,
 * plain and streamed. Undefined: null, absent, or no JSON text (a cycle: nothing a server sends).
 */
export function argumentsText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return value == null ? undefined : jsonText(value);
}

/**
 * A text field's value as the guards read it (an Anthropic text block's `text`, a text_delta's):
 * a string as it is (no copy: the API's shape), any other value but null or absent its JSON text,
 * escapes read as tool arguments' are (readableJson), what an application that stringifies it
 * shows; undefined for null or absent ('' for a value with no JSON text: a cycle, nothing a
 * server sends). As chat content parts read theirs (chat-content-parts.ts partText).
 */
export function valueText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return value == null ? undefined : readableJson(jsonText(value) ?? '');
}

/**
 * A field holding JSON text (OpenAI `arguments`, a custom tool's `input`). A value that is not
 * a string is read as its JSON text (argumentsText); a rewrite is written as a string, the
 * API's shape (JSON, or blocked as any JSON arguments whose rewrite is not), one that leaves the
 * text unchanged leaves the value as sent.
 */
export function textSlot(holder: Record<string, unknown>, field: string, out: ArgumentSlot[]): void {
  const raw = argumentsText(holder[field]);
  if (raw === undefined || raw.length === 0) return;
  const read = readableJson(raw);
  out.push({
    read,
    write(next) {
      if (next === read) return;
      const back = writtenBack(raw, read, next);
      if (back === undefined || (isJson(raw) && !isJson(back))) throw new UnwritableArguments();
      holder[field] = back;
    },
  });
}

/**
 * Argument text a stream kept back (its pieces joined), rewritten whole by a stream's rewrite
 * (`rw.whole`) and written back as textSlot writes it; throws UnwritableArguments when the
 * rewrite is no longer JSON where the text was.
 */
export function rewrittenArguments(text: string, rw: { whole(text: string): string }): string {
  const slot: ArgumentSlot[] = [];
  const value: Record<string, unknown> = { arguments: text };
  textSlot(value, 'arguments', slot);
  if (slot[0] !== undefined) slot[0].write(rw.whole(slot[0].read));
  return value.arguments as string;
}

/** Escapes whose letter glues to the text after it (`\n415-555-0123`): read as a space. */
function gluingEscape(c: number): boolean {
  return c === 0x6e || c === 0x74 || c === 0x72 || c === 0x62 || c === 0x66; // n t r b f
}

/**
 * `raw` as the guards read it: the letter of each `\n` `\t` `\r` `\b` `\f` escape a space, the
 * length kept. Read as sent, a newline in a JSON string is `\n`, and 'n415-555-0123',
 * 'njane@example.com', 'tsk-proj-...' are no phone, a longer address, no key to core's
 * detectors (they want a word boundary): data on any line but a string's first was missed, and
 * redact took the 'n' into a placeholder (`\[REDACTED:email]`, not JSON). Linear; `raw` itself
 * when it has no backslash.
 *
 * In JSON text (`raw` parses), each `\uXXXX` escape is read as its character (escapeCode):
 * a model writing `jane\u0040example.com` sends the application an address as surely as
 * `jane@example.com`, and the detectors saw none. Decoded, the read is shorter than `raw` by 5
 * characters an escape; writtenBack maps a rewrite back. Free text (a custom tool's input, not
 * JSON) keeps its `\u0040` as the letters it is.
 *
 * JSON text cut short counts (meantAsJson): a tool input ended by max_tokens inside its block
 * (`{"to":"jane\u0040example.com","body":"Your re`) is read by @anthropic-ai/sdk's
 * MessageStream with a lenient parser, which hands the application the address; read only when
 * it parsed, it passed every mode.
 */
export function readableJson(raw: string): string {
  if (raw.indexOf('\\') === -1) return raw;
  if (raw.indexOf('\\u') !== -1 && meantAsJson(raw)) return decodedJson(raw);
  let out = '';
  let from = 0;
  for (let i = 0; i < raw.length - 1; i++) {
    if (raw.charCodeAt(i) !== 0x5c) continue;
    if (gluingEscape(raw.charCodeAt(i + 1))) {
      out += raw.slice(from, i + 1) + ' ';
      from = i + 2;
    }
    i++; // the escaped character, whatever it is (`\\n` is a backslash and an n)
  }
  return from === 0 ? raw : out + raw.slice(from);
}

/**
 * readableJson of JSON text holding `\u` escapes: each decodable one (escapeCode) its
 * character, the gluing escapes' letters spaces. Written into a buffer of character codes and
 * made a string in blocks: one concatenation per escape cost ~1 us each (800,000 escapes, 4.8
 * MB of arguments: 0.8 s; 0.12 s so).
 */
function decodedJson(raw: string): string {
  const buf = new Uint16Array(raw.length);
  let w = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x5c || i + 1 === raw.length) {
      buf[w++] = c;
      continue;
    }
    const e = raw.charCodeAt(i + 1);
    const code = e === 0x75 ? escapeCode(raw, i) : -1;
    if (code >= 0) {
      buf[w++] = code;
      i += 5;
      continue;
    }
    buf[w++] = c;
    buf[w++] = gluingEscape(e) ? 0x20 : e;
    i++; // the escaped character, whatever it is
  }
  const pieces: string[] = [];
  for (let k = 0; k < w; k += BLOCK)
    pieces.push(
      String.fromCharCode.apply(null, buf.subarray(k, Math.min(w, k + BLOCK)) as unknown as number[]),
    );
  return pieces.join('');
}

/** Characters made a string at once (String.fromCharCode's arguments: well under V8's stack limit). */
const BLOCK = 8192;

/**
 * The character code of the `\uXXXX` escape at `i` in `raw`, when it reads as one: not `"`,
 * `\` or a control character (decoded, they would end the string or break the JSON: a rewrite
 * is written back with the decoded text, writtenBack), nor half of a surrogate pair (a lone half
 * would be written back as an unpaired surrogate). -1: left as it is.
 */
function escapeCode(raw: string, i: number): number {
  if (i + 6 > raw.length) return -1;
  let code = 0;
  for (let k = i + 2; k < i + 6; k++) {
    const h = hexValue(raw.charCodeAt(k));
    if (h < 0) return -1;
    code = code * 16 + h;
  }
  if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return -1;
  return code;
}

/** A hex digit's value; -1 for any other character. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20; // lower case
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * A rewrite `next` of `read` (readableJson(raw)) written back into `raw`'s text: the escapes'
 * letters put back (restoreEscapes, which keeps the length), and, where `read` decoded `\u`
 * escapes, `raw` itself kept before the first change and after the last (the common prefix and
 * suffix of `read` and `next`, mapped to `raw` by the escapes' 5 extra characters each): only the
 * changed middle carries decoded characters, which mean in JSON what their escapes meant, so the
 * arguments parse to the same values but for the placeholders. Linear. Undefined when the
 * letters cannot be put back (restoreEscapes).
 */
export function writtenBack(raw: string, read: string, next: string): string | undefined {
  const back = restoreEscapes(raw, next);
  if (back === undefined || read.length === raw.length) return back;
  let p = 0;
  const most = Math.min(read.length, next.length);
  while (p < most && read.charCodeAt(p) === next.charCodeAt(p)) p++;
  let q = 0;
  while (q < most - p && read.charCodeAt(read.length - 1 - q) === next.charCodeAt(next.length - 1 - q)) q++;
  return (
    raw.slice(0, rawOffset(raw, p)) +
    back.slice(p, back.length - q) +
    raw.slice(rawOffset(raw, read.length - q))
  );
}

/** The offset in `raw` of offset `at` of readableJson(raw): past the decoded escapes before it. */
function rawOffset(raw: string, at: number): number {
  let extra = 0;
  for (let i = 0; i < raw.length - 1 && i - extra < at; i++) {
    if (raw.charCodeAt(i) !== 0x5c) continue;
    if (raw.charCodeAt(i + 1) === 0x75 && escapeCode(raw, i) >= 0) {
      // The escape reads as one character at i - extra: an offset past it is past all six.
      extra += 5;
      i += 5;
      continue;
    }
    i++;
  }
  return at + extra;
}

/**
 * A rewrite of `readableJson(raw)` with the escapes' letters put back, in order: every `\ ` of
 * the rewrite is one of them or one of raw's own (JSON has no `\ ` escape, free text may; a
 * placeholder holds no backslash).
 * Undefined when their count differs (a finding took one in): the caller blocks, fail closed.
 */
export function restoreEscapes(raw: string, next: string): string | undefined {
  if (raw.indexOf('\\') === -1) return next;
  // A `\ ` of raw's own (a custom tool's free text: `My\ Documents`) is a "letter" too, a space:
  // each `\ ` of the rewrite is then one of these, in order.
  const letters: string[] = [];
  let ours = 0;
  for (let i = 0; i < raw.length - 1; i++) {
    if (raw.charCodeAt(i) !== 0x5c) continue;
    const c = raw.charCodeAt(i + 1);
    if (gluingEscape(c)) {
      letters.push(raw[i + 1]!);
      ours++;
    } else if (c === 0x20) letters.push(' ');
    i++;
  }
  if (ours === 0) return next;
  let out = '';
  let from = 0;
  let k = 0;
  for (let i = 0; i < next.length - 1; i++) {
    if (next.charCodeAt(i) !== 0x5c) continue;
    if (next.charCodeAt(i + 1) === 0x20) {
      if (k === letters.length) return undefined;
      out += next.slice(from, i + 1) + letters[k++]!;
      from = i + 2;
    }
    i++;
  }
  return k === letters.length ? out + next.slice(from) : undefined;
}

/** Anthropic `tool_use.input`: an object, read as its JSON text, written back parsed. */
export function objectSlot(holder: Record<string, unknown>, field: string, out: ArgumentSlot[]): void {
  const value = holder[field];
  if (value === undefined) return;
  const text = jsonText(value);
  if (text === undefined || text === '{}') return;
  const read = readableJson(text);
  out.push({
    read,
    write(next) {
      if (next === read) return;
      const back = writtenBack(text, read, next);
      if (back === undefined) throw new UnwritableArguments();
      try {
        holder[field] = JSON.parse(back) as unknown;
      } catch {
        throw new UnwritableArguments();
      }
    },
  });
}

/**
 * `value`'s JSON text as JSON.stringify writes it. JSON.stringify recurses: an input nested some
 * 10,000 deep (20 KB of brackets, which the clients' JSON.parse reads without recursing) throws
 * RangeError, and the input went unread in every mode. Then it is written by a loop
 * (stringifyDeep). Undefined: not JSON-able (a cycle, nothing the API sent).
 */
export function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) as string | undefined;
  } catch (err) {
    return err instanceof RangeError ? stringifyDeep(value) : undefined;
  }
}

/**
 * JSON.stringify without recursion, for parsed JSON (objects, arrays, strings, numbers,
 * booleans, null; as JSON.stringify: an undefined or function member left out, null in an
 * array). Linear: each value is pushed once. An object met twice is taken for a cycle.
 */
function stringifyDeep(root: unknown): string | undefined {
  const out: string[] = [];
  const seen = new Set<object>();
  /** Values to write and literal text ('[', ',', a key), popped in order. */
  const todo: Array<{ v: unknown } | string> = [{ v: root }];
  for (let top = todo.pop(); top !== undefined; top = todo.pop()) {
    if (typeof top === 'string') {
      out.push(top);
      continue;
    }
    const v = top.v;
    if (v === null || typeof v !== 'object') {
      out.push((JSON.stringify(v) as string | undefined) ?? 'null');
      continue;
    }
    if (seen.has(v)) return undefined;
    seen.add(v);
    // Pushed in reverse, so popped in order (no spread: an array of a million members).
    if (Array.isArray(v)) {
      todo.push(']');
      for (let i = v.length - 1; i >= 0; i--) todo.push({ v: v[i] }, i === 0 ? '[' : ',');
      if (v.length === 0) todo.push('[');
    } else {
      const members = Object.entries(v).filter(
        ([, m]) => m !== undefined && typeof m !== 'function' && typeof m !== 'symbol',
      );
      todo.push('}');
      for (let i = members.length - 1; i >= 0; i--)
        todo.push({ v: members[i]![1] }, `${i === 0 ? '{' : ','}${JSON.stringify(members[i]![0])}:`);
      if (members.length === 0) todo.push('{');
    }
  }
  return out.join('');
}

/**
 * JSON text, or text begun as a JSON object or array (its first non-blank character `{` or `[`)
 * that a lenient reader takes, cut or broken: its escapes are decoded (readableJson). Free text
 * starts otherwise. Linear.
 */
function meantAsJson(raw: string): boolean {
  const t = raw.trimStart();
  return t.startsWith('{') || t.startsWith('[') || isJson(raw);
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * `t` with the arguments read after its side texts, the reasoning (slots of kind `reasoning`)
 * after them: `tools` says how many of the side texts are arguments, `reasoning` how many, the
 * last ones, are reasoning. No slots: `t` itself (an answer without tool calls pays nothing).
 */
export function withToolArguments(t: OutputTexts, slots: readonly ArgumentSlot[]): OutputTexts {
  if (slots.length === 0) return t;
  const n = t.side.length;
  // The arguments, then the reasoning: written back in that order too.
  let ordered = slots;
  let reasoning = 0;
  for (const s of slots) if (s.kind === 'reasoning') reasoning++;
  if (reasoning > 0)
    ordered = [
      ...slots.filter((s) => s.kind !== 'reasoning'),
      ...slots.filter((s) => s.kind === 'reasoning'),
    ];
  const side = [...t.side];
  for (const s of ordered) side.push(s.read);
  return {
    answer: t.answer,
    side,
    tools: ordered.length - reasoning,
    ...(reasoning === 0 ? {} : { reasoning }),
    ...(t.cuts === undefined ? {} : { cuts: t.cuts }),
    ...(t.audio === undefined ? {} : { audio: t.audio }),
    write(answer, nextSide) {
      // The arguments first: one that cannot be written throws before the texts change.
      for (const [i, s] of ordered.entries()) s.write(nextSide[n + i] ?? '');
      return t.write(answer, nextSide.length > n ? nextSide.slice(0, n) : nextSide);
    },
  };
}

/**
 * The model's reasoning in a string field (a Responses reasoning item's summary or content
 * text, a chat message's reasoning_content): read as it is (prose the application shows, not
 * JSON: no escape is decoded) and written back as redact rewrote it.
 */
export function reasoningSlot(holder: Record<string, unknown>, field: string, out: ArgumentSlot[]): void {
  const read = holder[field];
  if (typeof read !== 'string' || read.length === 0) return;
  out.push({
    read,
    kind: 'reasoning',
    write(next) {
      holder[field] = next;
    },
  });
}

/**
 * Streams: each tool call's argument pieces joined, by a key naming the call (chat: choice and
 * tool index; Responses: the item; Anthropic: the block), in the order first seen. Capped at
 * MAX_TOOL_CALLS calls: past it `add` returns false (the caller cuts a guarded stream). The
 * characters kept count on the stream's `kept` (kept-text.ts), which cuts a guarded stream past
 * its cap and keeps an unguarded one's texts to the telemetry's.
 */
export class StreamedArguments {
  /** Each key's text, counted in the stream's KeptText (kept-map.ts). */
  private readonly calls: KeptMap;

  /** `output` false: reasoning, which the lease's output estimate does not count (kept-text.ts take). */
  constructor(kept: KeptText, output = true) {
    this.calls = new KeptMap(kept, output);
  }

  add(key: string, piece: string): boolean {
    const before = this.calls.get(key);
    if (before === undefined && this.calls.size >= MAX_TOOL_CALLS) return false;
    this.calls.add(key, piece, before);
    return true;
  }

  /**
   * A done event's arguments whole: they replace the pieces. Text the key held that the whole
   * does not begin with (an output_item.added item's text its done item changed, pieces a
   * server's done event contradicts) was delivered all the same: it is kept, as a text of its
   * own under the cap. Before, it was dropped, and the end check (detect mode's only read)
   * never read it.
   */
  set(key: string, whole: string): boolean {
    const before = this.calls.get(key);
    if (before === undefined && this.calls.size >= MAX_TOOL_CALLS) return false;
    if (before !== undefined && before.length > 0 && !whole.startsWith(before)) {
      const was = `${key}\u0000${this.calls.size}`;
      if (this.calls.size >= MAX_TOOL_CALLS) return false;
      this.calls.keepApart(key, was); // still kept, under its own key
    }
    // Unguarded past the telemetry's cap: as much of the whole as the cap leaves (kept-map.ts).
    this.calls.replace(key, whole);
    return true;
  }

  get size(): number {
    return this.calls.size;
  }

  /** Characters of output read and not kept (unguarded past the cap): the summary's `droppedChars` share. */
  get dropped(): number {
    return this.calls.dropped;
  }

  texts(): string[] {
    const out: string[] = [];
    for (const t of this.calls.values()) if (t.length > 0) out.push(t);
    return out;
  }

  /** The texts of the keys kept whole (not cut by an unguarded stream's cap; kept-map.ts). */
  wholeTexts(): string[] {
    const out: string[] = [];
    for (const [key, t] of this.calls.entries()) if (t.length > 0 && !this.calls.isShort(key)) out.push(t);
    return out;
  }
}

/** Tool calls whose argument pieces a stream keeps apart; past this a guarded stream is cut. */
export const MAX_TOOL_CALLS = 1024;

/** A guarded stream naming more tool calls than MAX_TOOL_CALLS is cut, as a block (stream-limit.ts). */
export function tooManyToolCalls(): StreamLimitError {
  return new StreamLimitError(`stream_limit: more than ${MAX_TOOL_CALLS} tool calls`);
}
