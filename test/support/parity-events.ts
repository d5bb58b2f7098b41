// Hostile events for the replay / detector differential test (parity-replay-detector.test.ts):
// each group is shaped to fire a rule, so a field read differently on one path shows as a
// different alert, not only as a different event. Values past the detector's 64 KiB string cap
// and past core's field caps, emoji and lone surrogates at the cut points, ids given as numbers,
// metadata nested past every depth cap, null, mixed arrays and 300 keys.
import type { GenEvent } from './scenarios/index.ts';

const S = 1000;
const EMOJI = '\u{1F600}';
const BIG = 70_000; // past the detector's max_string_bytes (65,536) in UTF-8

/** Custom rules reading what the hostile events vary (appended to the built-in rules). */
export const PARITY_RULES = `
  - id: parity_x_exists
    title: metadata.x present
    severity: warning
    description: A request that carries metadata.x, whatever its value.
    match: { categories: [request_completed], where: [{ field: metadata.x, exists: true }] }
    group_by: user_id
    window: 10m
    condition: { kind: single }

  - id: parity_tenant
    title: Auth failures per tenant
    severity: warning
    description: Auth failures grouped by a custom metadata key.
    match: { categories: [auth_failure] }
    group_by: metadata.tenant
    window: 10m
    condition: { kind: count, min: 3 }

  - id: parity_source
    title: Auth failures per address
    severity: warning
    description: Auth failures grouped by client address.
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 10m
    condition: { kind: count, min: 3 }

  - id: parity_session
    title: Blocks per session
    severity: warning
    description: Guardrail blocks grouped by session.
    match: { categories: [guardrail_block] }
    group_by: session_id
    window: 10m
    condition: { kind: count, min: 4 }
`;

function deepArray(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

function deepObject(levels: number): unknown {
  let v: unknown = { leaf: 1 };
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

/**
 * The hostile events from `t0` on (about 40 min of event time), in order. `loneSurrogates`:
 * include ids with a lone surrogate (JSONL and OTLP/JSON keep one; protobuf's UTF-8 cannot).
 */
export function parityEvents(t0: number, loneSurrogates: boolean): GenEvent[] {
  const out: GenEvent[] = [];
  let n = 0;
  const push = (t: number, line: Record<string, unknown>): void => {
    out.push({
      line: {
        event_id: `EVT-parity-${String(n++).padStart(4, '0')}`,
        timestamp: new Date(t).toISOString(),
        severity: 'warning',
        ...line,
      },
      t,
      arrive: t,
    });
  };
  const blocks = (start: number, count: number, fields: (i: number) => Record<string, unknown>): void => {
    for (let i = 0; i < count; i++) {
      push(start + i * 15 * S, {
        category: 'guardrail_block',
        metadata: { guardrail_layer: 'prompt_injection', block_reason: 'jailbreak' },
        ...fields(i),
      });
    }
  };
  // A user id of 80,000 bytes (40,000 units): over the detector's cap only in UTF-8.
  blocks(t0, 12, () => ({
    user_id: `huge-${'\u00e9'.repeat(40_000)}`,
    session_id: `s-huge-${'x'.repeat(BIG)}`,
  }));
  // Ids that differ only past 256 units, an emoji across the cut: one user once read.
  blocks(t0 + 60 * S, 12, (i) => ({
    user_id: `${'b'.repeat(255)}${EMOJI}${i}`,
    session_id: `${'s'.repeat(255)}${EMOJI.repeat(1 + (i % 3))}`,
  }));
  // Ids given as JSON numbers: "429" on every path.
  blocks(t0 + 120 * S, 12, () => ({ user_id: 429, session_id: 7 }));
  // One payload (a fingerprint past the cap, differing past it) from six accounts.
  blocks(t0 + 180 * S, 6, (i) => ({
    user_id: `camp-${i}`,
    metadata: {
      guardrail_layer: 'prompt_injection',
      block_reason: 'jailbreak',
      payload_fingerprint: `${'F'.repeat(BIG)}${i}`,
    },
  }));
  if (loneSurrogates) blocks(t0 + 240 * S, 12, () => ({ user_id: 'lone-\ud83d', session_id: 'x\udc00y' }));
  // Requests carrying metadata.x as a value of every kind: the custom rule fires on the model's.
  const xs: unknown[] = [
    null,
    { a: 1 },
    [1, 'a'],
    [[1]],
    deepArray(40),
    deepObject(40),
    'ok',
    0,
    false,
    [],
    ['a', 'b'],
    `${'x'.repeat(1_023)}${EMOJI}${'y'.repeat(BIG)}`,
  ];
  xs.forEach((x, i) => {
    push(t0 + 300 * S + i * 20 * S, {
      category: 'request_completed',
      severity: 'info',
      user_id: `x-${i}`,
      metadata: { model: 'gpt-4o-mini', prompt_length: 10, x },
    });
  });
  // Keys past the key cap (one past 64 KiB too): dropped with their values; x still read.
  push(t0 + 590 * S, {
    category: 'request_completed',
    severity: 'info',
    user_id: 'x-long-keys',
    metadata: {
      ['k'.repeat(BIG)]: 1,
      ['j'.repeat(300)]: 'v',
      long: Array.from({ length: 2_000 }, (_, i) => `item-${i}`),
      x: 'kept',
    },
  });
  // 300 metadata keys, x the 280th: past the 256 kept, so never read.
  const many: Record<string, unknown> = {};
  for (let k = 0; k < 300; k++) many[`k${k}`] = k;
  many.x = 'late';
  push(t0 + 600 * S, { category: 'request_completed', severity: 'info', user_id: 'x-many', metadata: many });
  // Auth failures: tenants as numbers and strings, addresses over the caps.
  for (let i = 0; i < 12; i++) {
    push(t0 + 700 * S + i * 10 * S, {
      category: 'auth_failure',
      user_id: `acct-${i}`,
      source_ip: i % 2 === 0 ? `10.9.9.9${' '.repeat(BIG)}${i}` : `10.9.9.9${' '.repeat(60)}${i}`,
      description: `bad key ${'d'.repeat(i % 3 === 0 ? BIG : 2_000)}`,
      metadata: { reason: 'bad_key', tenant: i % 4 < 2 ? 429 : '429' },
    });
  }
  // Previews past the cap with an emoji across it, read by identical_requests-like rules.
  blocks(t0 + 900 * S, 4, (i) => ({
    user_id: `preview-${i}`,
    session_id: 'shared-session',
    request_preview: `${'p'.repeat(499)}${EMOJI}${'q'.repeat(BIG)}`,
    response_preview: `${'r'.repeat(BIG)}`,
    conversation_id: `${'c'.repeat(300)}`,
    service: `svc-${'v'.repeat(BIG)}`,
  }));
  // A category past every cap (the record is named after it: llmsec.<category>): three events.
  blocks(t0 + 1_050 * S, 3, () => ({ user_id: 'long-category', category: `custom_${'k'.repeat(BIG)}` }));
  // A user id past the cap starting with U+FEFF (a byte order mark inside a string is text):
  // every path keeps it, protobuf's first-bytes read of an over-cap value too.
  blocks(t0 + 1_150 * S, 12, () => ({ user_id: `\uFEFF${'w'.repeat(BIG)}` }));
  // One event delivered twice (a log written by two exporters, a re-sent export): counted once.
  const firstDup = out.length;
  blocks(t0 + 1_100 * S, 6, () => ({ user_id: 'dup-user' }));
  for (const e of out.slice(firstDup)) out.push({ ...e, arrive: e.arrive + 1 });
  // A string field of another kind: the line is refused by replay (malformed) and the record by
  // the detector (invalid_event), PARITY_INVALID of them.
  push(t0 + 1_000 * S, { category: 'guardrail_block', user_id: 'kind-0', session_id: true });
  push(t0 + 1_001 * S, { category: 'auth_failure', user_id: 'kind-1', source_ip: ['10.0.0.1', '10.0.0.2'] });
  push(t0 + 1_002 * S, { category: 'auth_failure', user_id: 'kind-2', correlated_events: 'EVT-1' });
  // A list past the detector's max_attributes (1,024), which it drops as null: still a list.
  const list = Array.from({ length: 1_025 }, (_, i) => `s-${i}`);
  push(t0 + 1_003 * S, { category: 'guardrail_block', user_id: 'kind-3', session_id: list });
  return out;
}

/** Events of parityEvents that no path takes (a string field of another kind). */
export const PARITY_INVALID = 4;

/** Events of parityEvents that repeat an earlier one's id (each path counts it once). */
export const PARITY_REPEATED = 6;
