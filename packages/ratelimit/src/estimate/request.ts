/**
 * Estimates for an LLM API request body, as an API gateway or a chat backend receives it:
 * OpenAI chat completions (`messages`, `max_completion_tokens` / `max_tokens`), OpenAI
 * responses (`input`, `instructions`, `max_output_tokens`), embeddings (`input`), Anthropic
 * messages (`system`, `messages`, `max_tokens`), or a bare `prompt`.
 */
import { DEFAULT_PRICES } from '@llmsec/core';
import type { PriceTable } from '@llmsec/core';
import { estimateCostMicroUsd } from './cost.ts';
import { countTally, tallyChat, tallyContent, tallyJson, tallyStoredPrompt, TextTally } from './tokens.ts';
import type { ChatMessageLike } from './tokens.ts';

/**
 * Output tokens reserved when the request sets no maximum. Reserving the requested maximum is
 * what providers do for their own token limits; without one we reserve this and settle later.
 */
export const DEFAULT_RESERVED_OUTPUT_TOKENS = 1024;

export interface RequestEstimate {
  model?: string;
  inputTokens: number;
  /** The output tokens reserved: the request's maximum, else the default. */
  outputTokens: number;
  /** inputTokens + outputTokens: what the limiter reserves on the token dimensions. */
  totalTokens: number;
  /** Integer micro-USD, when the model has a price. */
  costMicroUsd?: number;
}

export interface RequestEstimateOptions {
  /** @default DEFAULT_RESERVED_OUTPUT_TOKENS (1024) */
  defaultOutputTokens?: number;
  /** @default DEFAULT_PRICES from @llmsec/core */
  priceTable?: PriceTable;
}

/** Estimate of a parsed JSON request body; anything that is not an object estimates to 0 in. */
export function estimateRequestBody(body: unknown, options: RequestEstimateOptions = {}): RequestEstimate {
  const defaultOutput = options.defaultOutputTokens ?? DEFAULT_RESERVED_OUTPUT_TOKENS;
  const priceTable = options.priceTable ?? DEFAULT_PRICES;
  if (typeof body === 'string') {
    const tally = new TextTally();
    tally.add(body);
    const inputTokens = countTally(tally, undefined);
    return { inputTokens, outputTokens: defaultOutput, totalTokens: inputTokens + defaultOutput };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  }
  const b = body as Record<string, unknown>;
  const model = typeof b.model === 'string' ? b.model : undefined;
  // The body's texts gathered, then counted at once: one tokenizing budget for the whole body
  // (linear in it, bounded per request) and one encoding lookup.
  const tally = new TextTally();
  if (Array.isArray(b.messages)) tallyChat(b.messages.filter(isObject) as ChatMessageLike[], tally);
  for (const field of ['system', 'instructions', 'input', 'prompt'] as const) {
    const v = b[field];
    // A Responses stored prompt is an object of variables, not content (tallyStoredPrompt).
    if (field === 'prompt' && v !== null && typeof v === 'object' && !Array.isArray(v))
      tallyStoredPrompt(v as Record<string, unknown>, tally);
    else if (v !== undefined) tallyContent(v, 0, tally);
  }
  // Tool definitions and output schemas are input the provider bills, and text the client
  // writes: counted as their JSON (descriptions and schemas are most of it).
  for (const field of ['tools', 'functions', 'response_format', 'text'] as const) {
    const v = b[field];
    if (v !== null && typeof v === 'object') tallyJson(v, tally);
  }
  const inputTokens = countTally(tally, model);
  const isEmbedding = model !== undefined && /(^|\/)text-embedding-|embed/i.test(model);
  const requested = firstPositiveInteger(b.max_completion_tokens, b.max_output_tokens, b.max_tokens);
  const outputTokens = isEmbedding ? 0 : (requested ?? defaultOutput);
  const estimate: RequestEstimate = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  if (model !== undefined) {
    estimate.model = model;
    const cost = estimateCostMicroUsd(model, inputTokens, outputTokens, priceTable);
    if (cost !== undefined) estimate.costMicroUsd = cost;
  }
  return estimate;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

function firstPositiveInteger(...values: unknown[]): number | undefined {
  for (const v of values) {
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.ceil(v);
  }
  return undefined;
}
