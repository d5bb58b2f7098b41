// The scenario generator's building blocks: a seeded random source, event lines in the public
// JSONL format (docs/formats.md) with the variation a stranger's traffic has (every documented
// timestamp form and zone offset, ids of other producers, upper-case and all-zero trace ids,
// optional fields left out), and the expected incidents each scenario states from the docs.

/** One line of events JSONL, with when it happened and when it reaches the reader. */
export interface GenEvent {
  line: Record<string, unknown>;
  /** Event time (ms). */
  t: number;
  /** Arrival order key (ms): `t` for an in-order event, later for one delivered late. */
  arrive: number;
}

/** An incident a scenario expects, stated from the docs (not from running the code). */
export interface ExpectedIncident {
  rule: string;
  labels: Record<string, string>;
  /** Every implicated user (any order). */
  users: string[];
  startsAt: number;
  /** ends_at of the resolved line: last holding event + the rule's quiet period. */
  endsAt: number;
}

export interface Scenario {
  name: string;
  /** Where the expectation comes from. */
  doc: string;
  events: GenEvent[];
  expected: ExpectedIncident[];
  /** Users and fingerprints whose alerts belong to this scenario (an alert on them not expected is a failure). */
  users: string[];
  fingerprints: string[];
  /** Client addresses whose alerts (labels `{source_ip}`) belong to this scenario. */
  addresses?: string[];
}

/** mulberry32: small, seeded, good enough to vary traffic reproducibly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * `ms` written in one of the RFC 3339 forms docs/formats.md allows (a zone is required): Z with
 * and without a fraction, 1 to 9 fraction digits, lower-case t / z, a space for T, offsets from
 * -12:00 to +14:00 (the local date then differs from the UTC one) and -00:00.
 */
export function formatTime(ms: number, variant: number): string {
  const offsets = [0, 330, -480, 840, -720, 345, 60, -210];
  const kind = variant % 10;
  const frac = ms % 1000;
  if (kind === 0) return new Date(ms).toISOString();
  if (kind === 1 && frac === 0) return new Date(ms).toISOString().replace('.000Z', 'Z');
  if (kind === 2) return new Date(ms).toISOString().replace('T', 't').replace('Z', 'z');
  if (kind === 3) return new Date(ms).toISOString().replace('T', ' ');
  if (kind === 4) return new Date(ms).toISOString().replace('Z', '456789Z'); // 9 digits: ms kept
  if (kind === 5) return new Date(ms).toISOString().replace('Z', '-00:00');
  const off = offsets[(variant >> 3) % offsets.length]! || 60;
  const local = new Date(ms + off * 60_000);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const fraction = kind === 6 ? '' : kind === 7 ? `.${pad(frac, 3)}` : `.${pad(frac, 3)}0`;
  if (kind === 6 && frac !== 0) return new Date(ms).toISOString();
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    `${fraction}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

const HEX = '0123456789abcdef';

/** Builds the events of one run: unique ids, varied forms, seeded. */
export class Gen {
  readonly rand: () => number;
  private n = 0;
  /** event id -> the trace id a reader keeps (lower-cased; none for all-zero or missing). */
  readonly traceOf = new Map<string, string | undefined>();

  constructor(seed: number) {
    this.rand = seeded(seed);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += HEX[Math.floor(this.rand() * 16)];
    return s;
  }

  /** A fresh payload fingerprint (16 hex). */
  fingerprint(): string {
    return this.hex(16);
  }

  /**
   * One event line. `at`: event time; `late`: delivered that much after its time (ms).
   * Optional fields are set at random, and some lines use another producer's id form.
   */
  event(
    category: string,
    user: string,
    at: number,
    fields: {
      metadata?: Record<string, unknown>;
      session?: string;
      conversation?: string;
      severity?: string;
      preview?: string;
      late?: number;
      noTrace?: boolean;
    } = {},
  ): GenEvent {
    const i = this.n++;
    const id = i % 7 === 3 ? `ext:${category}/${i}-ünï` : `EVT-${i.toString(16).padStart(12, '0')}`;
    const line: Record<string, unknown> = {
      event_id: id,
      timestamp: formatTime(at, this.int(0, 80)),
      category,
      severity: fields.severity ?? 'warning',
      user_id: user,
    };
    if (fields.session !== undefined) line.session_id = fields.session;
    if (fields.conversation !== undefined) line.conversation_id = fields.conversation;
    let trace: string | undefined;
    const form = this.int(0, 9);
    if (!fields.noTrace && form < 8) {
      const raw = this.hex(32);
      // Upper-case hex is lowered on read; an all-zero id is no trace (docs/formats.md).
      line.trace_id = form === 0 ? raw.toUpperCase() : form === 1 ? '0'.repeat(32) : raw;
      line.span_id = this.hex(16);
      trace = form === 1 ? undefined : raw;
    }
    this.traceOf.set(id, trace);
    if (form !== 9) line.service = 'chat-api';
    if (form === 5) line.source_ip = `198.51.100.${this.int(1, 254)}`;
    if (form === 6) line.description = 'généré — 🧪';
    if (form === 7) line.x_unknown_field = { nested: [1, 2, 3] }; // readers ignore unknown fields
    if (fields.preview !== undefined) line.request_preview = fields.preview;
    if (fields.metadata !== undefined) line.metadata = fields.metadata;
    return { line, t: at, arrive: at + (fields.late ?? 0) };
  }
}

/** Arrival order: by arrival key, then by generation order (a stable sort). */
export function arrivalOrder(events: GenEvent[]): GenEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.arrive - b.e.arrive || a.i - b.i)
    .map(({ e }) => e);
}
