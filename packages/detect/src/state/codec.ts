import { Ring } from '../ring.ts';

/**
 * Condition states as text, for the shared (Redis) state store. The states are the very
 * objects the in-memory conditions keep (rings, maps, arrays, a few numbers), so the shared
 * engine runs the same condition code as the in-memory one and cannot drift from it.
 *
 * JSON with four tags: a Ring as its live entries only (oldest first, times as deltas, so a
 * restored ring is the same window with its storage compacted), a Map as its entries, the non-finite numbers
 * the states use as sentinels (NaN, ±Infinity), and `undefined` (a missing trace id) as null.
 * Conditions never store null, so null can stand for undefined.
 */

interface RingTag {
  $R: [
    max: number,
    flags: number,
    times: number[],
    ids: string[] | 0,
    traces: unknown[] | 0,
    values: number[] | 0,
    users: string[] | 0,
  ];
}

const F_IDS = 1;
const F_TRACES = 2;
const F_VALUES = 4;
const F_USERS = 8;

function ringTag(r: Ring): RingTag {
  const n = r.size;
  const times: number[] = new Array<number>(n);
  const ids: string[] | 0 = r.ids ? new Array<string>(n) : 0;
  const traces: unknown[] | 0 = r.traces ? new Array<unknown>(n) : 0;
  const values: number[] | 0 = r.values ? new Array<number>(n) : 0;
  const users: string[] | 0 = r.users ? new Array<string>(n) : 0;
  // Times as deltas from the previous entry (the first from 0): small integers, a third of
  // the text of epoch milliseconds.
  let prev = 0;
  for (let k = 0; k < n; k++) {
    const i = r.at(k);
    times[k] = r.times[i]! - prev;
    prev = r.times[i]!;
    if (ids) ids[k] = r.ids![i]!;
    if (traces) traces[k] = r.traces![i] ?? null;
    if (values) values[k] = r.values![i]!;
    if (users) users[k] = r.users![i]!;
  }
  const flags =
    (r.ids ? F_IDS : 0) | (r.traces ? F_TRACES : 0) | (r.values ? F_VALUES : 0) | (r.users ? F_USERS : 0);
  return { $R: [r.max, flags, times, ids, traces, values, users] };
}

function ringFrom(tag: RingTag['$R']): Ring {
  const [max, flags, times, ids, traces, values, users] = tag;
  const ring = new Ring(max, {
    ids: (flags & F_IDS) !== 0,
    traces: (flags & F_TRACES) !== 0,
    values: (flags & F_VALUES) !== 0,
    users: (flags & F_USERS) !== 0,
  });
  let t = 0;
  for (let k = 0; k < times.length; k++) {
    const trace = traces ? traces[k] : undefined;
    t += times[k]!;
    ring.push(
      t,
      ids ? ids[k]! : '',
      typeof trace === 'string' ? trace : undefined,
      values ? values[k]! : 0,
      users ? users[k] : undefined,
    );
  }
  return ring;
}

function replacer(_key: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    return { $n: Number.isNaN(value) ? 'NaN' : value > 0 ? 'Inf' : '-Inf' };
  }
  if (value instanceof Ring) return ringTag(value);
  if (value instanceof Map) return { $M: [...value] };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  if ('$R' in o) return ringFrom(o.$R as RingTag['$R']);
  if ('$M' in o) return new Map(o.$M as [unknown, unknown][]);
  if ('$n' in o)
    return o.$n === 'NaN' ? Number.NaN : o.$n === 'Inf' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return value;
}

export function encodeState(value: unknown): string {
  return JSON.stringify(value, replacer);
}

export function decodeState<T>(text: string): T {
  return JSON.parse(text, reviver) as T;
}
