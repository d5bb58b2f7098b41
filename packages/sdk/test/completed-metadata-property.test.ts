import { ROOT_CONTEXT } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createIdGenerator, eventToAttributes, seededRandom, type SecurityEvent } from '@llmsec/core';
import { buildEvent, type BuildDeps } from '../src/event-builder.ts';
import { eventAttributes } from '../src/event-attributes.ts';

/*
 * The request_completed fast paths (completed-attributes.ts: the builder's one-literal
 * normalisation, the attributes' named stores) against the code they bypass, as it was at
 * 76b59a7 (copied below, so that the reference cannot move with the code under test), on random
 * metadata: completedMetadata's keys with values of every type, getters, and shapes one step off.
 * Same metadata (keys, order, Object.is values), same attributes, same drop warnings, a throw
 * exactly where the old code threw, and each getter read as often.
 */

const warnings = vi.hoisted(() => [] as string[]);
vi.mock('../src/errors.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/errors.ts')>()),
  // Every warning, not once per key: each run compares its own.
  warnOnce: (_key: string, message: string) => void warnings.push(message),
}));

// ---- 76b59a7's normalise.ts (unchanged since), the generic eventMetadata and the attribute loop ----
const OLD_LIMITS = { metadataStringChars: 1024, metadataKeys: 32, arrayItems: 50, keyChars: 64 };
function oldClipText(value: unknown, max: number): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    text = String(value);
  else return undefined;
  return text.length > max ? text.slice(0, max) : text;
}
function oldFiniteNumber(value: unknown): number | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'string' && value.trim() !== '') n = Number(value);
  else return undefined;
  if (Number.isNaN(n)) return undefined;
  if (n === Infinity) return Number.MAX_SAFE_INTEGER;
  if (n === -Infinity) return -Number.MAX_SAFE_INTEGER;
  return n;
}
function oldMetadataValue(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return oldClipText(value, OLD_LIMITS.metadataStringChars);
    case 'number':
    case 'bigint':
      return oldFiniteNumber(value);
    case 'boolean':
      return value;
    case 'object':
      return Array.isArray(value) ? oldMetadataArray(value) : undefined;
    default:
      return undefined;
  }
}
function oldMetadataArray(items: unknown[]): unknown {
  const head = items.slice(0, OLD_LIMITS.arrayItems);
  if (head.every((v) => typeof v === 'boolean')) return head;
  if (head.length > 0 && head.every((v) => typeof v === 'number' && Number.isFinite(v))) return head;
  const out: string[] = [];
  for (const v of head) {
    let s: string | undefined;
    if (typeof v === 'object' && v !== null) {
      try {
        s = oldClipText(JSON.stringify(v), OLD_LIMITS.metadataStringChars);
      } catch {
        s = undefined;
      }
    } else s = oldClipText(v, OLD_LIMITS.metadataStringChars);
    if (s !== undefined) out.push(s);
  }
  return out;
}
function oldEventMetadata(category: string, raw: object): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  const dropped: string[] = [];
  let count = 0;
  for (const key of Object.keys(raw)) {
    const value = oldMetadataValue((raw as Record<string, unknown>)[key]);
    if (value === undefined || count >= OLD_LIMITS.metadataKeys) {
      if ((raw as Record<string, unknown>)[key] !== undefined) dropped.push(key);
      continue;
    }
    metadata[key.length > OLD_LIMITS.keyChars ? key.slice(0, OLD_LIMITS.keyChars) : key] = value;
    count++;
  }
  if (dropped.length > 0) {
    const keys = dropped.slice(0, 10).join(', ');
    warnings.push(
      `llmsec: ${category} event: metadata keys dropped (unsupported value or too many keys): ${keys}`,
    );
  }
  return metadata;
}
function oldMetadataAttributes(md: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const key in md) if (Object.hasOwn(md, key)) out.push([`llmsec.metadata.${key}`, md[key]]);
  return out;
}

// ---- random metadata ----
const KEYS = [
  'model',
  'prompt_tokens',
  'completion_tokens',
  'latency_ms',
  'cost_usd',
  'prompt_length',
  'new_input_length',
  'blocked',
  'outcome',
];
const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;
const primitive = fc.oneof(
  fc.constantFrom(undefined, null, Number.NaN, -0, 0, Infinity, -Infinity, true, false, '', ' 12 ', '1e400'),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.string(),
  fc.integer({ min: 1000, max: 1100 }).map((n) => 'é'.repeat(n)),
  fc.constantFrom(Symbol('s'), () => 1),
);
/** Values of every type; mostly ones that are kept, so that most samples reach the fast literal. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.string(), fc.boolean()) },
  { weight: 4, arbitrary: primitive },
  { weight: 1, arbitrary: fc.array(primitive, { maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.array(fc.oneof(fc.object(), fc.constant(circular), fc.bigInt()), { maxLength: 4 }),
  },
  { weight: 1, arbitrary: fc.oneof(fc.object(), fc.constant(circular), fc.constant(new Date(0))) },
);
/** A property as data, or as a getter: counted, or throwing. */
const slot = fc.record({
  value,
  as: fc.oneof(
    { weight: 16, arbitrary: fc.constant<'data' | 'getter' | 'throws'>('data') },
    { weight: 3, arbitrary: fc.constant<'data' | 'getter' | 'throws'>('getter') },
    { weight: 1, arbitrary: fc.constant<'data' | 'getter' | 'throws'>('throws') },
  ),
});
/** completedMetadata's keys (and turn_index), or that shape one step off. */
const keyList = fc.oneof(
  { weight: 6, arbitrary: fc.boolean().map((turn) => (turn ? [...KEYS, 'turn_index'] : KEYS)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.nat(9), fc.nat(9), fc.constantFrom('swap', 'extra', 'drop', 'turn_first', 'proto'))
      .map(([i, j, how]) => {
        const ks = [...KEYS, 'turn_index'];
        if (how === 'swap') [ks[i], ks[j]] = [ks[j]!, ks[i]!];
        else if (how === 'extra') ks.splice(i, 0, 'extra');
        else if (how === 'drop') ks.splice(i, 1);
        else if (how === 'turn_first') ks.unshift(ks.pop()!);
        else if (how === 'proto') ks.splice(i, 1, '__proto__x');
        return ks;
      }),
  },
);
const sample = fc
  .tuple(
    keyList,
    fc.array(slot, { minLength: 11, maxLength: 11 }),
    fc.constantFrom('request_completed', 'unusual_token_usage'),
  )
  .map(([keys, slots, category]) => ({ keys, slots, category }));

type Sample = { keys: string[]; slots: { value: unknown; as: 'data' | 'getter' | 'throws' }[] };
/** The metadata object of a sample, and the count of reads of each key. */
function make(s: Sample): { raw: object; reads: Map<string, number> } {
  const raw = {};
  const reads = new Map<string, number>();
  s.keys.forEach((key, i) => {
    const { value: v, as } = s.slots[i]!;
    if (as === 'data')
      Object.defineProperty(raw, key, { value: v, enumerable: true, writable: true, configurable: true });
    else
      Object.defineProperty(raw, key, {
        enumerable: true,
        configurable: true,
        get() {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          if (as === 'throws') throw new Error(`getter ${key}`);
          return v;
        },
      });
  });
  return { raw, reads };
}

const deps: BuildDeps = {
  ids: createIdGenerator(seededRandom(13)),
  serviceName: undefined,
  capturePreviews: false,
  fingerprintKey: () => {
    throw new Error('no payload in these events');
  },
};
const entries = (o: object | undefined): [string, unknown][] => Object.entries(o ?? {});
/** Object.is on every value: -0 and 0 differ, NaN equals NaN. */
function expectSame(got: [string, unknown][], want: [string, unknown][]): void {
  expect(got.map(([k]) => k)).toEqual(want.map(([k]) => k));
  got.forEach(([k, v], i) => {
    const w = want[i]![1];
    if (Array.isArray(w)) expect(v, k).toStrictEqual(w);
    else expect(Object.is(v, w), `${k}: ${String(v)} vs ${String(w)}`).toBe(true);
  });
}

describe('request_completed fast paths against the 76b59a7 code, random metadata', () => {
  it('same metadata, attributes, warnings, throws and getter reads', () => {
    let fast = 0;
    let withDrops = 0;
    fc.assert(
      fc.property(sample, ({ keys, slots, category }) => {
        const oldSide = make({ keys, slots });
        warnings.length = 0;
        let oldThrew = false;
        let oldMd: Record<string, unknown> | undefined;
        try {
          oldMd = oldEventMetadata(category, oldSide.raw);
        } catch {
          oldThrew = true;
        }
        const oldWarnings = [...warnings];

        const newSide = make({ keys, slots });
        warnings.length = 0;
        let event: SecurityEvent | undefined;
        try {
          event = buildEvent(
            category,
            { metadata: newSide.raw } as never,
            undefined,
            deps,
            ROOT_CONTEXT,
            undefined,
            0,
          );
        } catch {
          event = undefined;
        }
        expect(event === undefined, 'throws where the old code threw').toBe(oldThrew);
        // When a getter throws, a dropped getter before it may have been read once less (the old
        // loop re-read each dropped value at once, the fast path after reading all): counts are
        // compared when the event was built.
        if (event === undefined || oldMd === undefined) return;
        expect([...newSide.reads]).toEqual([...oldSide.reads]);
        expect(warnings).toEqual(oldWarnings);
        expectSame(entries(event.metadata), entries(oldMd));
        if (Object.keys(oldMd).length === 0) expect(event.metadata).toBeUndefined();

        const attrs = eventAttributes(event);
        const md = Object.entries(attrs).filter(([k]) => k.startsWith('llmsec.metadata.'));
        expectSame(md, oldMetadataAttributes(oldMd));
        expectSame(entries(attrs), entries(eventToAttributes(event)));
        const completedShape = category === 'request_completed' && keys.length >= 9 && keys[0] === 'model';
        if (completedShape && Object.keys(oldMd).length === keys.length) fast++;
        else if (completedShape && keys.slice(0, 9).every((k, i) => k === KEYS[i])) withDrops++;
      }),
      { numRuns: 3000 },
    );
    // The fast literal and its drop path were reached, not only the fallbacks.
    expect(fast).toBeGreaterThan(200);
    expect(withDrops).toBeGreaterThan(200);
  });
});
