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
 * Texts longer than this are tokenized only up to here and extrapolated by the measured ratio.
 * BPE cost grows with the text; without a cap, a large prompt would buy an attacker CPU time
 * in the guard that is supposed to protect the service.
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
 * What one estimate may tokenize in all: TOKENIZE_MAX_CHARS characters over all its texts.
 * Tokenizing costs about 1.2 us a character on text the tokenizer has not seen (random words),
 * and the HTTP guard estimates every request before the limiter answers (a banned subject's
 * too), so a 1 MiB body of texts each under the per-text cap held the event loop for 1.2 s.
 * Past the budget, texts count at the tokens per character measured on the first ones.
 */
export class TokenizeBudget {
  /** Characters that may still be tokenized. */
  remaining = TOKENIZE_MAX_CHARS;
  /** Characters tokenized so far, and the tokens they made. */
  chars = 0;
  tokens = 0;
  #model: string | undefined;
  #encoding: Encoding | null | undefined;

  /**
   * The encoding of `model`, looked up once per budget: the lookup reads the whole id, which
   * is the client's (`model` of the body), and was done for every text, so an id of half a
   * body times the messages in the other half took 5.7 s at 512 KiB (quadratic).
   */
  encodingFor(model: string | undefined): Encoding | null {
    if (this.#encoding === undefined || model !== this.#model) {
      const name = encodingForModel(model);
      this.#encoding = name === undefined ? null : loadEncoding(name);
      this.#model = model;
    }
    return this.#encoding;
  }
}

/**
 * Tokens in `text` for `model`. OpenAI-style ids (gpt-*, o1/o3/o4*, text-embedding-*) and an
 * absent model use gpt-tokenizer (o200k_base unless the model is an older cl100k one); other
 * models (claude-*, unknown) use characters / 4. Linear time in the text, never throws on it.
 */
export function estimateTokens(text: string, model?: string): number {
  return tokensWithin(text, model, new TokenizeBudget());
}

/** estimateTokens, tokenizing at most what is left of `budget` and extrapolating the rest. */
export function tokensWithin(text: string, model: string | undefined, budget: TokenizeBudget): number {
  if (text.length === 0) return 0;
  const encoding = budget.encodingFor(model);
  if (!encoding) return charsPerTokenEstimate(text);
  if (budget.remaining <= 0) return Math.ceil((text.length * budget.tokens) / budget.chars);
  const head = text.length <= budget.remaining ? text : text.slice(0, budget.remaining);
  const tokens = countInPieces(encoding, head);
  budget.remaining -= head.length;
  budget.chars += head.length;
  budget.tokens += tokens;
  return head.length === text.length ? tokens : Math.ceil((tokens * text.length) / head.length);
}

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
  return chatTokensWithin(messages, model, new TokenizeBudget());
}

/** estimateChatTokens within `budget` (shared with the rest of a request body). */
export function chatTokensWithin(
  messages: readonly ChatMessageLike[],
  model: string | undefined,
  budget: TokenizeBudget,
): number {
  let total = TOKENS_REPLY_PRIMER;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE;
    if (typeof message.role === 'string') total += tokensWithin(message.role, model, budget);
    if (typeof message.name === 'string')
      total += TOKENS_PER_NAME + tokensWithin(message.name, model, budget);
    total += contentTokens(message.content, model, 0, budget);
  }
  return total;
}

/**
 * Content nested deeper than this (tool results in tool results...) is counted by its JSON's
 * characters / 4: each level is two stack frames here, and 20,000 levels of `[{"content":`
 * (280 KB of JSON) overflowed the stack, which made the whole request's estimate 0.
 */
export const MAX_CONTENT_DEPTH = 32;

/**
 * Tokens of a content value: a string, or an array of parts (`{type:'text', text}` and
 * non-text parts), as both OpenAI and Anthropic accept. Unknown shapes count as their JSON.
 */
export function estimateContentTokens(
  content: unknown,
  model?: string,
  budget: TokenizeBudget = new TokenizeBudget(),
): number {
  return contentTokens(content, model, 0, budget);
}

function contentTokens(
  content: unknown,
  model: string | undefined,
  depth: number,
  budget: TokenizeBudget,
): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return tokensWithin(content, model, budget);
  if (depth >= MAX_CONTENT_DEPTH) return Math.ceil(jsonChars(content) / 4);
  if (Array.isArray(content)) {
    let total = 0;
    for (const part of content) total += partTokens(part, model, depth, budget);
    return total;
  }
  return jsonTokens(content, model, budget);
}

function partTokens(part: unknown, model: string | undefined, depth: number, budget: TokenizeBudget): number {
  if (typeof part === 'string') return tokensWithin(part, model, budget);
  if (part === null || typeof part !== 'object') return 0;
  const record = part as Record<string, unknown>;
  if (typeof record.text === 'string') return tokensWithin(record.text, model, budget);
  // Anthropic tool results nest content; tool calls carry JSON input.
  if (record.content !== undefined) return contentTokens(record.content, model, depth + 1, budget);
  if (record.input !== undefined) return jsonTokens(record.input, model, budget);
  return TOKENS_PER_NON_TEXT_PART;
}

/** Tokens of a value's JSON; one JSON.stringify cannot write (too deep, a cycle) at characters / 4. */
function jsonTokens(value: unknown, model: string | undefined, budget: TokenizeBudget): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return Math.ceil(jsonChars(value) / 4);
  }
  return json === undefined ? 0 : tokensWithin(json, model, budget);
}
