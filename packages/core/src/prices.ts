/**
 * Default LLM price table: the one place where per-token prices live. The rate limiter
 * (cost dimensions, micro-USD reservations) and the instrumentation (`cost_usd` of a completed
 * request) both read it, so an estimate and the recorded cost never disagree.
 *
 * The figures are the providers' published list prices for standard (non-batch, non-cached)
 * usage as of 2025, in USD per million tokens. They are DEFAULTS: prices change, contracts
 * differ, cached input is cheaper. Pass your own table (same shape) wherever a `table`
 * parameter is accepted.
 */

export interface ModelPrice {
  /** USD per 1,000,000 input (prompt) tokens. */
  inputPerMTokUsd: number;
  /** USD per 1,000,000 output (completion) tokens. */
  outputPerMTokUsd: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

const p = (inputPerMTokUsd: number, outputPerMTokUsd: number): ModelPrice =>
  Object.freeze({ inputPerMTokUsd, outputPerMTokUsd });

/** Keys are model ids without a date suffix; `priceFor` matches dated ids by prefix. */
export const DEFAULT_PRICES: PriceTable = Object.freeze({
  // OpenAI (platform.openai.com/docs/pricing, 2025)
  'gpt-5': p(1.25, 10),
  'gpt-5-mini': p(0.25, 2),
  'gpt-5-nano': p(0.05, 0.4),
  'gpt-4.1': p(2, 8),
  'gpt-4.1-mini': p(0.4, 1.6),
  'gpt-4.1-nano': p(0.1, 0.4),
  'gpt-4o': p(2.5, 10),
  'gpt-4o-mini': p(0.15, 0.6),
  'gpt-4-turbo': p(10, 30),
  'gpt-4': p(30, 60),
  'gpt-3.5-turbo': p(0.5, 1.5),
  o1: p(15, 60),
  'o1-mini': p(1.1, 4.4),
  'o1-pro': p(150, 600),
  // o3 after the June 2025 price reduction (was 10 / 40).
  o3: p(2, 8),
  'o3-mini': p(1.1, 4.4),
  'o3-pro': p(20, 80),
  'o4-mini': p(1.1, 4.4),
  'text-embedding-3-small': p(0.02, 0),
  'text-embedding-3-large': p(0.13, 0),
  'text-embedding-ada-002': p(0.1, 0),
  // Anthropic (anthropic.com/pricing, 2025); ids as the API spells them.
  'claude-opus-4': p(15, 75),
  'claude-opus-4-1': p(15, 75),
  'claude-opus-4-5': p(5, 25),
  'claude-sonnet-4': p(3, 15),
  'claude-sonnet-4-5': p(3, 15),
  'claude-haiku-4-5': p(1, 5),
  'claude-3-7-sonnet': p(3, 15),
  'claude-3-5-sonnet': p(3, 15),
  // Claude Haiku 3.5
  'claude-3-5-haiku': p(0.8, 4),
  'claude-3-opus': p(15, 75),
  'claude-3-haiku': p(0.25, 1.25),
});

/**
 * The price of `model`: an exact key, else the longest key that is a prefix of the id at a
 * `-` boundary (so `gpt-4o-2024-08-06` → `gpt-4o`, `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`,
 * never `gpt-4o`). A provider prefix such as `openai/` is ignored; matching is
 * case-insensitive. Unknown models give `undefined`, never a guess.
 */
export function priceFor(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | undefined {
  const key = knownModel(model, table);
  return key === undefined ? undefined : table[key];
}

/**
 * The table key `model` is priced by (the matching rules of priceFor), or `undefined`: a
 * bounded name for a model, e.g. for metric labels (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`).
 */
export function knownModel(model: string, table: PriceTable = DEFAULT_PRICES): string | undefined {
  if (typeof model !== 'string') return undefined;
  const memo = memoOf(table);
  if (memo === undefined || model.length > MEMO_ID_CHARS) return matchModel(model, table);
  const hit = memo.get(model);
  if (hit !== undefined) return hit ?? undefined;
  const key = matchModel(model, table);
  if (memo.size < MEMO_IDS) memo.set(model, key ?? null);
  return key;
}

/**
 * knownModel's answers per frozen table (the default one is), by model id (null: not priced).
 * Every instrumented call prices its model (cost_usd), and the limiter its estimates: matching
 * lower-cases the id and, for a dated id, walks the table's keys. A frozen table's keys cannot
 * change, so neither can its answer for an id. Bounded: ids up to MEMO_ID_CHARS characters,
 * MEMO_IDS per table (ids come from providers' responses), the rest matched every time. A table
 * not frozen when first seen is never memoised (it may still change); `false` remembers that.
 */
const MEMO_IDS = 256;
const MEMO_ID_CHARS = 128;
const memos = new WeakMap<object, Map<string, string | null> | false>();

function memoOf(table: PriceTable): Map<string, string | null> | undefined {
  if (typeof table !== 'object' || table === null) return undefined;
  let memo = memos.get(table);
  if (memo === undefined) {
    memo = Object.isFrozen(table) ? new Map() : false;
    memos.set(table, memo);
  }
  return memo === false ? undefined : memo;
}

/** The matching rules of knownModel, every time. */
function matchModel(model: string, table: PriceTable): string | undefined {
  const slash = model.lastIndexOf('/');
  const id = (slash >= 0 ? model.slice(slash + 1) : model).trim().toLowerCase();
  if (id === '') return undefined;
  if (Object.hasOwn(table, id) && table[id]) return id;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const k = key.toLowerCase();
    if ((id === k || id.startsWith(`${k}-`)) && (best === undefined || k.length > best.length)) best = key;
  }
  return best;
}

/** Cost in USD (float, for telemetry such as `cost_usd`); `undefined` for an unknown model. */
export function costUsd(
  model: string,
  inputTokens: number,
  outputTokens: number,
  table: PriceTable = DEFAULT_PRICES,
): number | undefined {
  const price = priceFor(model, table);
  if (!price) return undefined;
  return (tokens(inputTokens) * price.inputPerMTokUsd + tokens(outputTokens) * price.outputPerMTokUsd) / 1e6;
}

/**
 * Cost in integer micro-USD, rounded up (a request never costs less than it used). Note that
 * 1 USD per million tokens is exactly 1 micro-USD per token. Computed in integer pico-USD
 * (BigInt) so that float error cannot push an exact result over the next integer
 * (0.1 × 30 is 3.0000000000000004 in floats). `undefined` for an unknown model.
 */
export function costMicroUsd(
  model: string,
  inputTokens: number,
  outputTokens: number,
  table: PriceTable = DEFAULT_PRICES,
): number | undefined {
  const price = priceFor(model, table);
  if (!price) return undefined;
  const picoIn = BigInt(Math.round(price.inputPerMTokUsd * 1e6));
  const picoOut = BigInt(Math.round(price.outputPerMTokUsd * 1e6));
  const pico = BigInt(tokens(inputTokens)) * picoIn + BigInt(tokens(outputTokens)) * picoOut;
  const micro = (pico + 999_999n) / 1_000_000n;
  return Number(micro);
}

/** Token counts are non-negative integers; anything else (NaN, negative) counts as 0. */
function tokens(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}
