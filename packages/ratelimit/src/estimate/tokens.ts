/**
 * Token estimates for reservations. An estimate only has to be good enough to reserve: the
 * limiter settles every lease against the provider's reported usage afterwards. So: a real BPE
 * tokenizer for OpenAI-style models (exact for plain text), characters / 4 for everything else
 * (the usual rule of thumb for English with modern tokenizers).
 */
import { encodingForModel, loadEncoding } from './tokenizer.ts';

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
 * Tokens in `text` for `model`. OpenAI-style ids (gpt-*, o1/o3/o4*, text-embedding-*) and an
 * absent model use gpt-tokenizer (o200k_base unless the model is an older cl100k one); other
 * models (claude-*, unknown) use characters / 4.
 */
export function estimateTokens(text: string, model?: string): number {
  if (text.length === 0) return 0;
  const name = encodingForModel(model);
  const encoding = name === undefined ? null : loadEncoding(name);
  if (!encoding) return charsPerTokenEstimate(text);
  if (text.length <= TOKENIZE_MAX_CHARS) return encoding.countTokens(text);
  const head = encoding.countTokens(text.slice(0, TOKENIZE_MAX_CHARS));
  return Math.ceil((head * text.length) / TOKENIZE_MAX_CHARS);
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
  let total = TOKENS_REPLY_PRIMER;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE;
    if (typeof message.role === 'string') total += estimateTokens(message.role, model);
    if (typeof message.name === 'string') total += TOKENS_PER_NAME + estimateTokens(message.name, model);
    total += estimateContentTokens(message.content, model);
  }
  return total;
}

/**
 * Tokens of a content value: a string, or an array of parts (`{type:'text', text}` and
 * non-text parts), as both OpenAI and Anthropic accept. Unknown shapes count as their JSON.
 */
export function estimateContentTokens(content: unknown, model?: string): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return estimateTokens(content, model);
  if (Array.isArray(content)) {
    let total = 0;
    for (const part of content) total += estimatePartTokens(part, model);
    return total;
  }
  return estimateTokens(safeJson(content), model);
}

function estimatePartTokens(part: unknown, model: string | undefined): number {
  if (typeof part === 'string') return estimateTokens(part, model);
  if (part === null || typeof part !== 'object') return 0;
  const record = part as Record<string, unknown>;
  if (typeof record.text === 'string') return estimateTokens(record.text, model);
  // Anthropic tool results nest content; tool calls carry JSON input.
  if (record.content !== undefined) return estimateContentTokens(record.content, model);
  if (record.input !== undefined) return estimateTokens(safeJson(record.input), model);
  return TOKENS_PER_NON_TEXT_PART;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
