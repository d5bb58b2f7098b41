import type { Attributes } from '@opentelemetry/api';

type Key = string | undefined;
type Level<T> = Map<Key, T>;

/**
 * Frozen metric attribute sets, keyed by the raw label values (up to four) that produced them.
 * Every metric record on the request path used to build a fresh attributes object and run
 * each value through its BoundedLabel; the sets repeat (a handful of layers, outcomes,
 * models), so a few map lookups replace both. Sound because a BoundedLabel's answer for a
 * value never changes once given (a kept value stays kept; a value folded into `other` stays
 * folded: its set only grows). Nested maps, not a joined string key: looking up a constant
 * string hashes nothing, while a joined key is a new string to flatten and hash every call.
 * Bounded like the labels: past `maxEntries` sets, and for values longer than a label can be
 * (they are clipped, so they are not what the cache is for), callers build uncached sets.
 */
export class AttributeCache {
  private readonly root: Level<Level<Level<Level<Attributes>>>> = new Map();
  private readonly maxEntries: number;
  private entries = 0;
  // The last set found and its keys: a call's records and a burst of events repeat one set, and
  // four string comparisons (pointer-equal for the constants and input strings that repeat) cost
  // less than four map lookups. Stored sets are never removed; set() forgets the memo.
  private lastA: Key = undefined;
  private lastB: Key = undefined;
  private lastC: Key = undefined;
  private lastD: Key = undefined;
  private lastSet: Attributes | undefined;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get(a: Key, b: Key, c: Key, d: Key): Attributes | undefined {
    if (
      this.lastSet !== undefined &&
      a === this.lastA &&
      b === this.lastB &&
      c === this.lastC &&
      d === this.lastD
    )
      return this.lastSet;
    const found = this.root.get(a)?.get(b)?.get(c)?.get(d);
    if (found !== undefined) {
      this.lastA = a;
      this.lastB = b;
      this.lastC = c;
      this.lastD = d;
      this.lastSet = found;
    }
    return found;
  }

  /** Freezes `attrs` (the metrics SDK keeps the first set of a series as its key) and keeps it if there is room. */
  set(a: Key, b: Key, c: Key, d: Key, attrs: Attributes): Attributes {
    Object.freeze(attrs);
    if (this.entries >= this.maxEntries || long(a) || long(b) || long(c) || long(d)) return attrs;
    let l1 = this.root.get(a);
    if (l1 === undefined) this.root.set(a, (l1 = new Map()));
    let l2 = l1.get(b);
    if (l2 === undefined) l1.set(b, (l2 = new Map()));
    let l3 = l2.get(c);
    if (l3 === undefined) l2.set(c, (l3 = new Map()));
    if (!l3.has(d)) this.entries++;
    l3.set(d, attrs);
    this.lastSet = undefined; // in case it replaced the remembered set
    return attrs;
  }
}

/** Longer than any label value (BoundedLabel clips at 64): not worth keeping as a key. */
const MAX_KEY_CHARS = 128;

function long(key: Key): boolean {
  return key !== undefined && key.length > MAX_KEY_CHARS;
}

/** A label value usable as a cache key: a string, or absent. Anything else is built per call. */
export function isKey(value: unknown): value is Key {
  return value === undefined || typeof value === 'string';
}
