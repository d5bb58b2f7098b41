import { IdenticalState } from '../conditions/identical.ts';
import { MonotonicState } from '../conditions/monotonic.ts';
import { RatioState } from '../conditions/ratio.ts';
import { Ring, sharedRingLayout, type RingLayout } from '../ring.ts';

/**
 * Condition states as text, for the shared (Redis) state store. The states are the very
 * objects the in-memory conditions keep (rings, ring states, maps, arrays, a few numbers), so
 * the shared engine runs the same condition code as the in-memory one and cannot drift from it.
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
  const ids: string[] | 0 = r.hasIds ? new Array<string>(n) : 0;
  const traces: unknown[] | 0 = r.hasTraces ? new Array<unknown>(n) : 0;
  const values: number[] | 0 = r.hasValues ? new Array<number>(n) : 0;
  const users: string[] | 0 = r.hasUsers ? new Array<string>(n) : 0;
  // Times as deltas from the previous entry (the first from 0): small integers, a third of
  // the text of epoch milliseconds.
  let prev = 0;
  for (let k = 0; k < n; k++) {
    const i = r.at(k);
    const t = r.timeAt(i);
    times[k] = t - prev;
    prev = t;
    if (ids) ids[k] = r.idAt(i);
    if (traces) traces[k] = r.traceAt(i) ?? null;
    if (values) values[k] = r.valueAt(i);
    if (users) users[k] = r.userAt(i);
  }
  const flags =
    (r.hasIds ? F_IDS : 0) |
    (r.hasTraces ? F_TRACES : 0) |
    (r.hasValues ? F_VALUES : 0) |
    (r.hasUsers ? F_USERS : 0);
  return { $R: [r.max, flags, times, ids, traces, values, users] };
}

/**
 * Condition states that are a ring with fields beside it (one object per group instead of
 * two). They are written as they were when the ring was one of their fields, `{ ring, ...fields }`,
 * so stored states read back the same whichever version wrote them.
 */
interface RingState {
  type: abstract new (layout: RingLayout) => Ring;
  make: (layout: RingLayout) => Ring;
  fields: string[];
  /** Columns the state's ring has now, added when an older version's text lacks them. */
  flags?: number;
}

const RING_STATES: RingState[] = [
  { type: RatioState, make: (l) => new RatioState(l), fields: ['hits'] },
  { type: IdenticalState, make: (l) => new IdenticalState(l), fields: ['value', 'breakAt', 'prevAt'] },
  // Trace ids since issue 13 (an alert's trace_ids are its evidence's): a window written without
  // them reads back with the column, its entries without a trace, so new entries keep theirs.
  { type: MonotonicState, make: (l) => new MonotonicState(l), fields: ['run', 'prev'], flags: F_TRACES },
];

/** The ring states by their fields besides `ring`, sorted and joined. */
const RING_STATE_BY_FIELDS = new Map(RING_STATES.map((r) => [[...r.fields].sort().join(','), r]));

function ringStateOf(value: Ring): RingState | undefined {
  if (value.constructor === Ring) return undefined;
  return RING_STATES.find((r) => value instanceof r.type);
}

function ringFrom(
  tag: RingTag['$R'],
  make: (layout: RingLayout) => Ring = (l) => new Ring(l),
  addFlags = 0,
): Ring {
  const [max, stored, times, ids, traces, values, users] = tag;
  const flags = stored | addFlags;
  const ring = make(
    sharedRingLayout(max, {
      ids: (flags & F_IDS) !== 0,
      traces: (flags & F_TRACES) !== 0,
      values: (flags & F_VALUES) !== 0,
      users: (flags & F_USERS) !== 0,
    }),
  );
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

/**
 * A copy of `value` that plain JSON.stringify can write: tags where JSON has no form. A walk
 * of our own instead of a `replacer`: the replacer is a call into JavaScript for every value
 * (numbers of every ring included) and keeps JSON.stringify off its fast path.
 */
function toPlain(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value)
        ? value
        : { $n: Number.isNaN(value) ? 'NaN' : value > 0 ? 'Inf' : '-Inf' };
    case 'undefined':
      return null;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) out[i] = toPlain(value[i]);
        return out;
      }
      if (value instanceof Ring) {
        // ringTag writes null for a missing trace; times, values, ids and users are finite / strings.
        const tag = ringTag(value);
        const state = ringStateOf(value);
        if (state === undefined) return tag;
        const out: Record<string, unknown> = { ring: tag };
        for (const key of state.fields)
          out[key] = toPlain((value as unknown as Record<string, unknown>)[key]);
        return out;
      }
      if (value instanceof Map) return { $M: toPlain([...value]) };
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) out[key] = toPlain((value as Record<string, unknown>)[key]);
      return out;
    }
    default:
      return value;
  }
}

/** The inverse of toPlain, in place (JSON.parse made the objects; nobody else holds them). */
function fromPlain(value: unknown): unknown {
  if (value === null) return undefined;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i] as unknown;
      if (v === null || typeof v === 'object') value[i] = fromPlain(v);
    }
    return value;
  }
  const o = value as Record<string, unknown>;
  if (o.$R !== undefined) return ringFrom(o.$R as RingTag['$R']);
  const ringState = ringStateFrom(o);
  if (ringState !== undefined) return ringState;
  if (o.$M !== undefined) return new Map(fromPlain(o.$M) as [unknown, unknown][]);
  if (o.$n !== undefined)
    return o.$n === 'NaN' ? Number.NaN : o.$n === 'Inf' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null || typeof v === 'object') o[key] = fromPlain(v);
  }
  return o;
}

/** `{ ring, ...fields }` of a ring state (see RING_STATES) as that state, else undefined. */
function ringStateFrom(o: Record<string, unknown>): Ring | undefined {
  const ring = o.ring as { $R?: RingTag['$R'] } | null | undefined;
  if (typeof ring !== 'object' || ring === null || ring.$R === undefined) return undefined;
  const keys = Object.keys(o).filter((k) => k !== 'ring');
  const state = RING_STATE_BY_FIELDS.get(keys.sort().join(','));
  if (state === undefined) return undefined;
  const out = ringFrom(ring.$R, state.make, state.flags);
  for (const key of state.fields) (out as unknown as Record<string, unknown>)[key] = fromPlain(o[key]);
  return out;
}

export function encodeState(value: unknown): string {
  return JSON.stringify(toPlain(value));
}

export function decodeState<T>(text: string): T {
  return fromPlain(JSON.parse(text)) as T;
}
