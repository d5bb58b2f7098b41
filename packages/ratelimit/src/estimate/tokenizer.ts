/**
 * Lazy, synchronous access to gpt-tokenizer's BPE encodings. The encodings are large (o200k
 * takes ~150 ms and tens of MB to load), so nothing is loaded at import; a RateLimiter loads
 * o200k_base in its constructor (warmTokenizer) unless told not to, else the first estimate that
 * needs an encoding loads it.
 * `createRequire` gives a synchronous load of the package's CommonJS build, so estimates stay
 * plain functions returning numbers.
 */
import { createRequire } from 'node:module';
import { diag } from '@opentelemetry/api';

export type EncodingName = 'o200k_base' | 'cl100k_base' | 'p50k_base' | 'r50k_base';

export interface Encoding {
  /** Throws on special-token text unless `disallowedSpecial` is given (an empty set: none). */
  countTokens(text: string, options?: { disallowedSpecial?: ReadonlySet<string> }): number;
}

const require = createRequire(import.meta.url);
const loaded = new Map<EncodingName, Encoding | null>();
let modelMap: Record<string, string> | null | undefined;

/** The encoding, or `null` when it cannot be loaded (then callers fall back to chars / 4). */
export function loadEncoding(name: EncodingName): Encoding | null {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached;
  let encoding: Encoding | null = null;
  try {
    encoding = require(`gpt-tokenizer/cjs/encoding/${name}`) as Encoding;
  } catch (err) {
    diag.warn(`llmsec: tokenizer encoding ${name} unavailable, estimating chars/4`, err);
  }
  loaded.set(name, encoding);
  return encoding;
}

/** Whether `name` has been loaded (or found missing): for tests of the warm-up. */
export function encodingLoaded(name: EncodingName): boolean {
  return loaded.has(name);
}

/**
 * Loads o200k_base (every OpenAI model since gpt-4o, and requests that name none) and the model
 * map now, so the first request through the limiter does not pay the load (~150 ms on an idle
 * machine, 5.7 s measured at load 17, on the first request's path before). The load is
 * synchronous (the estimate is a plain function) and holds the event loop, so it runs in the
 * RateLimiter's constructor, before that limiter has a store command in flight: on a timer
 * (67511ec) it landed between a first acquire's EVALSHA and its reply, the command timeout fired
 * first when the loop came back, and the limiter counted a store failure. Once per process.
 * loadEncoding catches a missing package (chars / 4 then, as before).
 */
export function warmTokenizer(): void {
  if (loaded.has('o200k_base')) return;
  try {
    loadEncoding('o200k_base');
    modelEncodingMap();
  } catch (err) {
    diag.warn('llmsec: tokenizer warm-up failed', err);
  }
}

/**
 * OpenAI-style model ids get a real encoding: the package's own model → encoding map for the
 * older models, o200k_base (the encoding of every OpenAI model since gpt-4o) otherwise.
 * Anything else (Claude, Llama, unknown) gets `undefined`: its tokenizer is not public or not
 * bundled, and pretending otherwise would be false precision.
 */
export function encodingForModel(model: string | undefined): EncodingName | undefined {
  if (model === undefined || model === '') return 'o200k_base';
  const slash = model.lastIndexOf('/');
  const id = (slash >= 0 ? model.slice(slash + 1) : model).toLowerCase();
  if (!isOpenAiStyle(id)) return undefined;
  const map = modelEncodingMap();
  let best: string | undefined;
  for (const key of Object.keys(map)) {
    if ((id === key || id.startsWith(`${key}-`)) && (best === undefined || key.length > best.length))
      best = key;
  }
  const mapped = best === undefined ? undefined : map[best];
  return mapped === 'cl100k_base' || mapped === 'p50k_base' || mapped === 'r50k_base' ? mapped : 'o200k_base';
}

const OPENAI_PREFIXES = [
  'gpt-',
  'chatgpt-',
  'text-embedding-',
  'text-davinci-',
  'davinci',
  'babbage',
  'codex-',
];

function isOpenAiStyle(id: string): boolean {
  return OPENAI_PREFIXES.some((prefix) => id.startsWith(prefix)) || /^o\d(?:$|-)/.test(id);
}

function modelEncodingMap(): Record<string, string> {
  if (modelMap === undefined) {
    try {
      const mapping = require('gpt-tokenizer/cjs/mapping') as { modelToEncodingMap: Record<string, string> };
      modelMap = mapping.modelToEncodingMap;
    } catch {
      modelMap = null;
    }
  }
  return modelMap ?? {};
}
