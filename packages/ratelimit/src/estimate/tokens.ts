/**
 * Token estimates for reservations. An estimate only has to be good enough to reserve: the
 * limiter settles every lease against the provider's reported usage afterwards. So: a real BPE
 * tokenizer for OpenAI-style models (exact for plain text), characters / 4 for everything else
 * (the usual rule of thumb for English with modern tokenizers).
 */
import { encodingForModel, loadEncoding } from './tokenizer.ts';
import type { Encoding } from './tokenizer.ts';
import { jsonChars } from './json-chars.ts';

/**
 * What one estimate tokenizes, about, in all its texts: up to this many characters exactly,
 * past it a random sample of this size (`countTally`). BPE cost grows with the text; without a
 * cap, a large prompt would buy an attacker CPU time in the guard that is supposed to protect
 * the service.
 */
export const TOKENIZE_MAX_CHARS = 64_000;

/** Rough fallback: one token per four UTF-16 code units, rounded up. */
export function charsPerTokenEstimate(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Longest piece of text the BPE is given at once. gpt-tokenizer merges one pre-token (a run of
 * letters, or of one repeated character) in time growing with the square of its length: one
 * "word" of 64,000 random letters took 0.9-1.7 s of CPU, so a 1 MiB request body of them held
 * the host's event loop for half a minute inside the guard that is meant to protect it. A text
 * is tokenized in pieces of at most this many characters, cut before a word's leading space in
 * the piece's second half (where the tokenizer splits anyway: prose is counted exactly), else
 * at the length (a long word's count may move by a token per piece): linear time.
 */
export const TOKENIZE_PIECE_CHARS = 512;

/**
 * Special-token text in a prompt (`<|endoftext|>`, `<|im_start|>`) is counted as the text it
 * is, as the providers read user text. By default gpt-tokenizer throws on it, and a throw
 * inside the estimate made the HTTP guard reserve 0 tokens and 0 cost for the request.
 */
const SPECIAL_AS_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * The texts of one estimate, gathered before any is tokenized, and the tokens known without
 * tokenizing (framing, non-text parts, chars / 4 fallbacks). Gathering first lets the count
 * know the estimate's total length before it spends its tokenizing budget (`countTally`).
 */
export class TextTally {
  readonly texts: string[] = [];
  /** Characters in `texts`. */
  chars = 0;
  /** Tokens counted without tokenizing. */
  fixed = 0;
  /**
   * Arrays and objects already walked: each is counted once. A body parsed from JSON is a tree,
   * but an application's value may share or cycle (`a.push(a, a)`): walked again at each
   * reference down to MAX_CONTENT_DEPTH, that was 2^32 visits (the estimate never returned).
   */
  private readonly walked = new Set<object>();

  /** False when `value` was walked before (count it once). */
  firstWalk(value: object): boolean {
    if (this.walked.has(value)) return false;
    this.walked.add(value);
    return true;
  }

  add(text: string): void {
    if (text.length === 0) return;
    this.texts.push(text);
    this.chars += text.length;
  }
}

/**
 * Tokens in `text` for `model`. OpenAI-style ids (gpt-*, o1/o3/o4*, text-embedding-*) and an
 * absent model use gpt-tokenizer (o200k_base unless the model is an older cl100k one); other
 * models (claude-*, unknown) use characters / 4. Linear time in the text, never throws on it.
 */
export function estimateTokens(text: string, model?: string): number {
  const tally = new TextTally();
  tally.add(text);
  return countTally(tally, model);
}

/**
 * The tokens of a tally: its fixed tokens plus its texts'. The encoding is looked up once (the
 * lookup reads the whole model id, which is the client's: per text, an id of half a body times
 * the messages in the other half was quadratic, 5.7 s at 512 KiB). Texts of at most
 * TOKENIZE_MAX_CHARS in all are tokenized exactly. Past it, tokenizing all would cost about
 * 1.2 us a character on text the tokenizer has not seen (a 1 MiB body: 1.2 s of the host's
 * event loop, before the limiter answers, a banned subject's requests included), so the count
 * tokenizes a random sample of the pieces, about TOKENIZE_MAX_CHARS of characters, and counts
 * all the characters at the tokens per character measured on it. Random, not the first ones:
 * measured on the first 64,000 characters, a body of 64,000 spaces then 900,000 characters of
 * dense text estimated 7,573 tokens for 1,736,880 (the limiter reserved 1/229 of it, and
 * `estimate_exceeds_limit` never fired); a sample the client cannot place is as likely to fall
 * on the dense part as the part is large.
 */
export function countTally(tally: TextTally, model: string | undefined): number {
  const name = encodingForModel(model);
  const encoding = name === undefined ? null : loadEncoding(name);
  let total = tally.fixed;
  if (!encoding) {
    for (const text of tally.texts) total += charsPerTokenEstimate(text);
  } else if (tally.chars <= TOKENIZE_MAX_CHARS) {
    for (const text of tally.texts) total += countInPieces(encoding, text);
  } else {
    total += sampledTokens(encoding, tally.texts, tally.chars);
  }
  return total;
}

/**
 * Tokens of `texts` (`chars` characters, more than TOKENIZE_MAX_CHARS) from a stratified random
 * sample of their pieces: the characters cut into SAMPLE_DRAWS strata of equal length, one
 * character drawn at random in each, and each stratum counted at the tokens per character of
 * the piece holding its draw (unbiased: a piece is drawn as often as its share of the stratum).
 * The client cannot place the sample (Math.random is enough: it never sees the draws), and a
 * dense stretch is sampled in proportion to its length, not by luck: with an independent draw
 * per piece, 64,000 dense characters before 400,000 spaces were counted outside 0.5-1.5x of
 * their tokens in about 3% of estimates (the dense part held 17 of ~125 draws, give or take 4).
 * Pieces are at most TOKENIZE_PIECE_CHARS and strata longer, so at most TOKENIZE_MAX_CHARS
 * characters are tokenized, whatever the draws.
 */
function sampledTokens(encoding: Encoding, texts: readonly string[], chars: number): number {
  const stratum = chars / SAMPLE_DRAWS;
  // Where draw `n` falls, in characters from the first text's start (below `chars`, rounding
  // included, so every draw lands in a piece).
  const at = (n: number): number => Math.min((n + Math.random()) * stratum, chars - 1);
  let draw = at(0);
  let drawn = 0;
  let offset = 0;
  let total = 0;
  for (const text of texts) {
    // A text the next draw is past: no piece of it is cut.
    if (draw >= offset + text.length) {
      offset += text.length;
      continue;
    }
    for (let start = 0; start < text.length && drawn < SAMPLE_DRAWS;) {
      const end = text.length - start > TOKENIZE_PIECE_CHARS ? pieceEnd(text, start) : text.length;
      // Draws in this piece (two when it straddles strata and both fell in it).
      let draws = 0;
      for (; drawn < SAMPLE_DRAWS && draw < offset + end - start; draws++) {
        drawn++;
        draw = at(drawn);
      }
      if (draws > 0) {
        const tokens = encoding.countTokens(
          start === 0 && end === text.length ? text : text.slice(start, end),
          SPECIAL_AS_TEXT,
        );
        total += (draws * stratum * tokens) / (end - start);
      }
      offset += end - start;
      start = end;
    }
    if (drawn >= SAMPLE_DRAWS) break;
  }
  return Math.ceil(total);
}

/** Strata of a sampled count: TOKENIZE_MAX_CHARS in pieces of TOKENIZE_PIECE_CHARS at most. */
const SAMPLE_DRAWS = Math.floor(TOKENIZE_MAX_CHARS / TOKENIZE_PIECE_CHARS);

function countInPieces(encoding: Encoding, text: string): number {
  let total = 0;
  let start = 0;
  while (text.length - start > TOKENIZE_PIECE_CHARS) {
    const end = pieceEnd(text, start);
    total += encoding.countTokens(text.slice(start, end), SPECIAL_AS_TEXT);
    start = end;
  }
  return total + encoding.countTokens(start === 0 ? text : text.slice(start), SPECIAL_AS_TEXT);
}

/**
 * End of the piece from `start` (text is longer than a piece past it): before the last space
 * that sits between two non-spaces in the piece's second half, else at the piece length, moved
 * back one so as not to split a surrogate pair. At most half a piece scanned per piece.
 */
function pieceEnd(text: string, start: number): number {
  const limit = start + TOKENIZE_PIECE_CHARS;
  for (let i = limit; i > start + TOKENIZE_PIECE_CHARS / 2; i--) {
    if (text.charCodeAt(i) === 0x20 && !isSpace(text.charCodeAt(i - 1)) && !isSpace(text.charCodeAt(i + 1))) {
      return i;
    }
  }
  const last = text.charCodeAt(limit - 1);
  return last >= 0xd800 && last <= 0xdbff ? limit - 1 : limit;
}

const UNICODE_SPACE = /\s/;

/** `\s` as the tokenizers' split patterns read it (NaN, past the end, is not a space). */
function isSpace(code: number): boolean {
  if (code < 0x80) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  return UNICODE_SPACE.test(String.fromCharCode(code));
}

/** One chat message as the OpenAI and Anthropic APIs accept it (content string or parts). */
export interface ChatMessageLike {
  role?: unknown;
  name?: unknown;
  content?: unknown;
  /** An assistant message's tool calls (OpenAI chat), counted as their JSON. */
  tool_calls?: unknown;
  /** The deprecated single function call (OpenAI chat), counted as its JSON. */
  function_call?: unknown;
  refusal?: unknown;
}

/**
 * Framing tokens per message and for priming the reply, as in OpenAI's published counting
 * recipe for gpt-3.5-turbo-0613 and later (3 per message, 1 per name, 3 for the reply).
 */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const TOKENS_REPLY_PRIMER = 3;
/**
 * A non-text content part (image, audio, file) counts as this many tokens: OpenAI's figure for
 * one high-detail 1024×1024 image tile set. Rough by design; usage settles the difference.
 */
export const TOKENS_PER_NON_TEXT_PART = 765;

/** Input tokens of a chat request: every message's text plus the framing overhead. */
export function estimateChatTokens(messages: readonly ChatMessageLike[], model?: string): number {
  const tally = new TextTally();
  tallyChat(messages, tally);
  return countTally(tally, model);
}

/** Adds a chat request's messages to `tally`: their texts and their framing tokens. */
export function tallyChat(messages: readonly ChatMessageLike[], tally: TextTally): void {
  tally.fixed += TOKENS_REPLY_PRIMER;
  for (const message of messages) {
    tally.fixed += TOKENS_PER_MESSAGE;
    if (typeof message.role === 'string') tally.add(message.role);
    if (typeof message.name === 'string') {
      tally.fixed += TOKENS_PER_NAME;
      tally.add(message.name);
    }
    tallyContent(message.content, 0, tally);
    // The history's tool calls: their arguments are input the provider bills, and text the
    // client chooses as freely as content (an estimate that skipped them was the place to put it).
    if (message.tool_calls !== undefined && message.tool_calls !== null) tallyJson(message.tool_calls, tally);
    if (message.function_call !== undefined && message.function_call !== null)
      tallyJson(message.function_call, tally);
    if (typeof message.refusal === 'string') tally.add(message.refusal);
  }
}

/**
 * Content nested deeper than this (tool results in tool results...) is counted by its JSON's
 * characters / 4: each level is two stack frames here, and 20,000 levels of `[{"content":`
 * (280 KB of JSON) overflowed the stack, which made the whole request's estimate 0.
 */
export const MAX_CONTENT_DEPTH = 32;

/**
 * Adds a content value to `tally`: a string, or an array of parts (`{type:'text', text}` and
 * non-text parts), as both OpenAI and Anthropic accept. Unknown shapes count as their JSON.
 */
export function tallyContent(content: unknown, depth: number, tally: TextTally): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') tally.add(content);
  else if (depth >= MAX_CONTENT_DEPTH) tally.fixed += Math.ceil(jsonChars(content) / 4);
  else if (Array.isArray(content)) {
    if (!tally.firstWalk(content)) return;
    for (const part of content) tallyPart(part, depth, tally);
  } else tallyJson(content, tally);
}

function tallyPart(part: unknown, depth: number, tally: TextTally): void {
  if (typeof part === 'string') return tally.add(part);
  // Legacy completions and embeddings take a prompt as token ids (a list, or a list of lists):
  // a token each. Skipped, a prompt of 50,000 ids was estimated at 0 tokens.
  if (typeof part === 'number') {
    tally.fixed += 1;
    return;
  }
  if (Array.isArray(part)) return tallyContent(part, depth + 1, tally);
  if (part === null || typeof part !== 'object') return;
  if (!tally.firstWalk(part)) return;
  const record = part as Record<string, unknown>;
  if (typeof record.text === 'string') tally.add(record.text);
  // Anthropic tool results nest content; tool calls carry JSON input.
  else if (record.content !== undefined) tallyContent(record.content, depth + 1, tally);
  else if (record.input !== undefined) tallyJson(record.input, tally);
  // Responses items: a tool's output (a string, parts, or one part: a computer_call_output's
  // screenshot, which as JSON was its base64 counted as text, 273,000 tokens for a 300 KB PNG);
  // an mcp_call carries its arguments beside its output.
  else if (record.output !== undefined) {
    const output = record.output;
    if (output !== null && typeof output === 'object' && !Array.isArray(output))
      tallyPart(output, depth + 1, tally);
    else tallyContent(output, depth + 1, tally);
    if (typeof record.arguments === 'string') tally.add(record.arguments);
  } else if (typeof record.arguments === 'string') tally.add(record.arguments);
  // An Anthropic plain-text document: its text is in the source (base64 sources are media).
  else if (isTextSource(record.source)) tally.add(record.source.data);
  else if (isMediaPart(record)) tally.fixed += TOKENS_PER_NON_TEXT_PART;
  else tallyFields(record, depth, tally);
}

/**
 * Parts the provider reads as an image, audio or a file (billed by its size in pixels or pages,
 * not as the characters of its base64), or that point at stored content the estimate cannot
 * see: a fixed TOKENS_PER_NON_TEXT_PART each. Not an Anthropic document whose source is
 * content blocks (text the model reads; tallyFields walks it).
 */
const MEDIA_PART_TYPES = new Set([
  'image_url',
  'input_image',
  'image',
  'input_audio',
  'audio',
  'file',
  'input_file',
  'computer_screenshot',
  'image_generation_call',
  'container_upload',
  'redacted_thinking',
  'item_reference',
]);

function isMediaPart(record: Record<string, unknown>): boolean {
  const type = record.type;
  if (typeof type !== 'string') return false;
  if (type === 'document') {
    const source = record.source as { type?: unknown } | null | undefined;
    return !(typeof source === 'object' && source !== null && source.type === 'content');
  }
  return MEDIA_PART_TYPES.has(type);
}

/**
 * Values the provider checks and does not read as text (reasoning and thinking carried back
 * sealed): not counted. A forged one is refused, so it buys no tokens.
 */
const SEALED_FIELDS = new Set(['encrypted_content', 'signature']);

/**
 * Any other part, as its keys and values: a tool item of a shape not read above
 * (`shell_call_output`'s stdout, `apply_patch_call`'s diff, `local_shell_call`'s command, an
 * Anthropic content document's blocks, a reasoning summary). It counted a fixed 765 tokens, so
 * 200,000 characters of stdout or diff went past the reservations. Nested values are parts
 * (media inside stays a fixed figure); numbers a token each; `type` and sealed fields skipped.
 */
function tallyFields(record: Record<string, unknown>, depth: number, tally: TextTally): void {
  if (depth >= MAX_CONTENT_DEPTH) {
    tally.fixed += Math.ceil(jsonChars(record) / 4);
    return;
  }
  for (const key of Object.keys(record)) {
    if (key === 'type' || SEALED_FIELDS.has(key)) continue;
    tally.add(key);
    const value = record[key];
    // An object without a type is no part but a map (a schema's properties, an environment):
    // read as a part, a key named `content` or `input` in it was read and its siblings not.
    if (isUntypedObject(value) && tally.firstWalk(value)) tallyFields(value, depth + 1, tally);
    else if (!isUntypedObject(value)) tallyPart(value, depth + 1, tally);
  }
}

function isUntypedObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type !== 'string'
  );
}

/**
 * A Responses stored prompt (`prompt: {id, version, variables}`): each variable as a part, so an
 * `input_image` or `input_file` variable is one fixed figure (as JSON, a data URL's base64 was
 * counted as text: 273,000 tokens for a 300 KB image) and every text variable is read, whatever
 * its name (`input`, `text`: read as a part's fields, the rest of the variables were skipped).
 */
export function tallyStoredPrompt(prompt: Record<string, unknown>, tally: TextTally): void {
  if (!tally.firstWalk(prompt)) return;
  for (const key of Object.keys(prompt)) {
    const value = prompt[key];
    tally.add(key);
    if (key !== 'variables' || value === null || typeof value !== 'object' || Array.isArray(value)) {
      tallyPart(value, 1, tally);
      continue;
    }
    if (!tally.firstWalk(value)) continue;
    const variables = value as Record<string, unknown>;
    for (const name of Object.keys(variables)) {
      tally.add(name);
      tallyPart(variables[name], 1, tally);
    }
  }
}

function isTextSource(source: unknown): source is { data: string } {
  const s = source as { type?: unknown; data?: unknown } | null | undefined;
  return typeof s === 'object' && s !== null && s.type === 'text' && typeof s.data === 'string';
}

/** A value's JSON; one JSON.stringify cannot write (too deep, a cycle) at characters / 4. */
export function tallyJson(value: unknown, tally: TextTally): void {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    tally.fixed += Math.ceil(jsonChars(value) / 4);
    return;
  }
  if (json !== undefined) tally.add(json);
}
