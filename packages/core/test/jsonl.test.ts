import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  EventDecodeError,
  decodeEvent,
  decodeEventLine,
  encodeAlert,
  encodeEvent,
  readEventsJsonl,
  type Alert,
  type LineError,
  type SecurityEvent,
} from '@llmsec/core';

const MINIMAL = {
  event_id: 'EVT-3f9a0c1d2b4e',
  timestamp: '2026-11-22T10:00:00.123Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
};

const FULL: SecurityEvent = {
  event_id: 'EVT-000000000001',
  timestamp: '2026-11-22T10:00:01Z',
  category: 'pii_detected',
  severity: 'warning',
  user_id: 'u2',
  session_id: 's1',
  conversation_id: 'conv-1',
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  span_id: '00f067aa0ba902b7',
  source_ip: '203.0.113.7',
  service: 'chat-api',
  description: 'PII in prompt',
  request_preview: 'my mail is [REDACTED:email]',
  response_preview: 'ok',
  metadata: { pii_types: ['email'], direction: 'input' },
  correlated_events: ['EVT-000000000000'],
};

function expectDecodeError(line: string, message: RegExp | string): void {
  let caught: unknown;
  try {
    decodeEventLine(line);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(EventDecodeError);
  expect((caught as Error).name).toBe('EventDecodeError');
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

const without = (key: string): Record<string, unknown> => {
  const copy: Record<string, unknown> = { ...MINIMAL };
  delete copy[key];
  return copy;
};

describe('decodeEventLine: valid lines', () => {
  it('decodes the required fields and the event time in ms', () => {
    const { event, timeMs } = decodeEventLine(JSON.stringify(MINIMAL));
    expect(event).toEqual(MINIMAL);
    expect(timeMs).toBe(Date.UTC(2026, 10, 22, 10, 0, 0, 123));
  });

  it('decodes every optional field', () => {
    expect(decodeEventLine(JSON.stringify(FULL)).event).toEqual(FULL);
  });

  it('accepts unknown fields (dropped) and unknown categories (kept)', () => {
    const line = JSON.stringify({ ...MINIMAL, category: 'quantum_jailbreak', extra: { a: 1 }, zzz: true });
    const { event } = decodeEventLine(line);
    expect(event.category).toBe('quantum_jailbreak');
    expect(event).not.toHaveProperty('extra');
    expect(event).not.toHaveProperty('zzz');
  });

  it('turns numeric ids into strings and ignores null optionals', () => {
    const { event } = decodeEventLine(
      JSON.stringify({
        ...MINIMAL,
        event_id: 17,
        user_id: 42,
        session_id: 9,
        metadata: null,
        trace_id: null,
      }),
    );
    expect(event.event_id).toBe('17');
    expect(event.user_id).toBe('42');
    expect(event.session_id).toBe('9');
    expect(event).not.toHaveProperty('metadata');
    expect(event).not.toHaveProperty('trace_id');
  });

  it('decodeEvent takes an already parsed value', () => {
    expect(decodeEvent({ ...MINIMAL }).event).toEqual(MINIMAL);
  });

  it('cuts user, session and conversation ids past 256 UTF-16 units, as the SDK and the detector do', () => {
    const long = `${'é'.repeat(100)}${'u'.repeat(300)}`;
    const { event } = decodeEventLine(
      JSON.stringify({
        ...MINIMAL,
        user_id: long,
        session_id: `s${long}`,
        conversation_id: `c${long}`,
        service: long,
      }),
    );
    expect(event.user_id).toBe(long.slice(0, 256));
    expect(event.session_id).toBe(`s${long}`.slice(0, 256));
    expect(event.conversation_id).toBe(`c${long}`.slice(0, 256));
    // Not a group key of the built-in rules, but a custom rule may group by it: cut too (event-caps.ts).
    expect(event.service).toBe(long.slice(0, 256));
    expect(decodeEvent({ ...MINIMAL, user_id: 'u'.repeat(256) }).event.user_id).toHaveLength(256);
  });

  it('never cuts inside a surrogate pair: an emoji across the 256th unit goes whole, as the SDK and the detector cut', () => {
    const across = `${'u'.repeat(255)}😈tail`; // the pair at units 255-256
    const fits = `${'c'.repeat(254)}😈tail`; // the pair at 254-255
    const { event } = decodeEventLine(
      JSON.stringify({
        ...MINIMAL,
        user_id: across,
        session_id: `s${across.slice(1)}`,
        conversation_id: fits,
      }),
    );
    expect(event.user_id).toBe('u'.repeat(255));
    expect(event.session_id).toBe(`s${'u'.repeat(254)}`);
    expect(event.conversation_id).toBe(`${'c'.repeat(254)}😈`);
    expect(encodeEvent(event)).not.toMatch(/\\ud8/i);
  });
});

describe('decodeEventLine: malformed lines', () => {
  it('invalid JSON', () => {
    expectDecodeError('{"event_id": "EVT-1",', /^invalid JSON: /);
    expectDecodeError('not json at all', /^invalid JSON: /);
  });

  it('not an object', () => {
    for (const line of ['[]', 'null', '"text"', '42']) expectDecodeError(line, 'not a JSON object');
  });

  it('each missing required field is named', () => {
    for (const key of ['event_id', 'timestamp', 'category', 'severity', 'user_id']) {
      expectDecodeError(JSON.stringify(without(key)), `missing required field "${key}"`);
    }
  });

  it('empty and wrongly typed required fields', () => {
    expectDecodeError(JSON.stringify({ ...MINIMAL, user_id: '' }), 'field "user_id" is empty');
    expectDecodeError(JSON.stringify({ ...MINIMAL, category: ['x'] }), 'field "category" must be a string');
    expectDecodeError(
      JSON.stringify({ ...MINIMAL, timestamp: 1732269600000 }),
      'field "timestamp" must be a string',
    );
  });

  it('bad timestamps', () => {
    for (const ts of ['2026-11-22T10:00:00', 'yesterday', '2026-02-30T00:00:00Z']) {
      expectDecodeError(
        JSON.stringify({ ...MINIMAL, timestamp: ts }),
        `bad timestamp ${JSON.stringify(ts)} (want RFC 3339 with zone)`,
      );
    }
  });

  it('bad severity', () => {
    expectDecodeError(
      JSON.stringify({ ...MINIMAL, severity: 'fatal' }),
      'bad severity "fatal" (want info, warning, alert or critical)',
    );
    expectDecodeError(JSON.stringify({ ...MINIMAL, severity: 'WARNING' }), /^bad severity "WARNING"/);
  });

  it('wrongly typed optional fields', () => {
    expectDecodeError(
      JSON.stringify({ ...MINIMAL, session_id: { a: 1 } }),
      'field "session_id" must be a string',
    );
    expectDecodeError(JSON.stringify({ ...MINIMAL, metadata: [1] }), 'field "metadata" must be an object');
    expectDecodeError(JSON.stringify({ ...MINIMAL, metadata: 'x' }), 'field "metadata" must be an object');
    expectDecodeError(
      JSON.stringify({ ...MINIMAL, correlated_events: 'EVT-1' }),
      'field "correlated_events" must be an array of strings',
    );
  });

  it('correlated_events entries that are no id refuse the line (String() made "null", "[object Object]")', () => {
    for (const entry of [null, { id: 'EVT-1' }, true, ['EVT-1']]) {
      expectDecodeError(
        JSON.stringify({ ...MINIMAL, correlated_events: ['EVT-1', entry] }),
        'field "correlated_events" must be an array of strings',
      );
    }
    // A number is its decimal text, as the ids are read.
    const line = JSON.stringify({ ...MINIMAL, correlated_events: ['EVT-1', 42] });
    expect(decodeEventLine(line).event.correlated_events).toEqual(['EVT-1', '42']);
  });
});

describe('readEventsJsonl', () => {
  const lines = [
    JSON.stringify(MINIMAL),
    '',
    '{broken',
    JSON.stringify({ ...MINIMAL, event_id: 'EVT-2', severity: 'fatal' }),
    '   ',
    JSON.stringify(without('user_id')),
    JSON.stringify({ ...MINIMAL, event_id: 'EVT-3', category: 'future_category', extra: 1 }),
    JSON.stringify({ ...MINIMAL, event_id: 'EVT-4', timestamp: '2026-11-22T10:00:00' }),
  ];

  async function collect(input: Readable | AsyncIterable<string>) {
    const errors: LineError[] = [];
    const events: { id: string; line: number }[] = [];
    for await (const d of readEventsJsonl(input, (e) => errors.push(e))) {
      events.push({ id: d.event.event_id, line: d.line });
    }
    return { events, errors };
  }

  const expected = {
    events: [
      { id: 'EVT-3f9a0c1d2b4e', line: 1 },
      { id: 'EVT-3', line: 7 },
    ],
    errors: [
      { line: 3, message: expect.stringMatching(/^invalid JSON: /) as unknown as string },
      { line: 4, message: 'bad severity "fatal" (want info, warning, alert or critical)' },
      { line: 6, message: 'missing required field "user_id"' },
      { line: 8, message: 'bad timestamp "2026-11-22T10:00:00" (want RFC 3339 with zone)' },
    ],
  };

  it('reports malformed lines with their line numbers and goes on (async iterable)', async () => {
    async function* gen() {
      yield* lines;
    }
    expect(await collect(gen())).toEqual(expected);
  });

  it('reads a stream, with CRLF line ends and no final newline', async () => {
    expect(await collect(Readable.from([lines.join('\r\n')]))).toEqual(expected);
  });

  it('reads a stream split at arbitrary points', async () => {
    const text = lines.join('\n') + '\n';
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7));
    expect(await collect(Readable.from(chunks))).toEqual(expected);
  });
});

describe('encodeEvent', () => {
  it('writes the events.md field order', () => {
    const shuffled = Object.fromEntries(Object.entries(FULL).reverse()) as unknown as SecurityEvent;
    expect(Object.keys(JSON.parse(encodeEvent(shuffled)) as object)).toEqual([
      'event_id',
      'timestamp',
      'category',
      'severity',
      'user_id',
      'session_id',
      'conversation_id',
      'trace_id',
      'span_id',
      'source_ip',
      'service',
      'description',
      'request_preview',
      'response_preview',
      'metadata',
      'correlated_events',
    ]);
  });

  it('omits absent fields; one line', () => {
    const line = encodeEvent({
      ...MINIMAL,
      severity: 'warning',
      session_id: undefined,
      conversation_id: undefined,
    } as SecurityEvent);
    expect(line).toBe(
      '{"event_id":"EVT-3f9a0c1d2b4e","timestamp":"2026-11-22T10:00:00.123Z","category":"guardrail_block","severity":"warning","user_id":"u1"}',
    );
    expect(encodeEvent({ ...FULL, description: 'two\nlines' })).not.toContain('\n');
  });

  it('round-trips through decodeEventLine', () => {
    expect(decodeEventLine(encodeEvent(FULL)).event).toEqual(FULL);
  });

  it('writes the conversation id (an optional field added after 1.0: older readers ignore it) and reads it back', () => {
    const line = encodeEvent({ ...MINIMAL, conversation_id: 'conv-7' } as SecurityEvent);
    expect(line).toBe(
      '{"event_id":"EVT-3f9a0c1d2b4e","timestamp":"2026-11-22T10:00:00.123Z","category":"guardrail_block","severity":"warning","user_id":"u1","conversation_id":"conv-7"}',
    );
    expect(decodeEventLine(line).event.conversation_id).toBe('conv-7');
    // A line written before the field existed reads exactly as before: no key at all.
    expect(Object.keys(decodeEventLine(JSON.stringify(MINIMAL)).event)).not.toContain('conversation_id');
    // Like the other optional ids: a number is taken as its string, anything else is an error.
    expect(decodeEventLine(JSON.stringify({ ...MINIMAL, conversation_id: 42 })).event.conversation_id).toBe(
      '42',
    );
    expectDecodeError(
      JSON.stringify({ ...MINIMAL, conversation_id: { id: 1 } }),
      'field "conversation_id" must be a string',
    );
  });
});

describe('encodeAlert', () => {
  const alert: Alert = {
    title: 'Rapid guardrail blocks',
    trigger: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    runbook_url: 'https://runbooks.example/rapid',
    users_are_victims: true,
    trace_ids: ['4bf92f3577b34da6a3ce929d0e0e4736'],
    evidence: ['EVT-1', 'EVT-9'],
    description: '20 blocks in 5m',
    starts_at: '2026-11-22T10:00:00Z',
    user_ids: ['u1'],
    labels: { user_id: 'u1' },
    status: 'firing',
    severity: 'alert',
    rule: 'rapid_guardrail_blocks',
    alert_id: 'ALR-1',
  };

  it('writes exactly the formats.md alert fields, in order, leaving in-process extras out', () => {
    const line = encodeAlert(alert);
    expect(Object.keys(JSON.parse(line) as object)).toEqual([
      'alert_id',
      'rule',
      'severity',
      'status',
      'labels',
      'user_ids',
      // In the line since the victim exemption must survive a webhook or the JSONL read back
      // into enforcement (test/victim-flag-readback.test.ts); absent when not set.
      'users_are_victims',
      'starts_at',
      'description',
      'evidence',
      'trace_ids',
    ]);
    expect(line).not.toContain('runbook');
    expect(line).not.toContain('Rapid guardrail blocks');
    expect(JSON.parse(line)).toMatchObject({ users_are_victims: true });
    const { users_are_victims: _unset, ...actors } = alert;
    expect(Object.keys(JSON.parse(encodeAlert(actors)) as object)).not.toContain('users_are_victims');
  });

  it('writes ends_at after starts_at on resolved lines', () => {
    const resolved = { ...alert, status: 'resolved' as const, ends_at: '2026-11-22T10:09:00Z' };
    const keys = Object.keys(JSON.parse(encodeAlert(resolved)) as object);
    expect(keys.slice(7, 9)).toEqual(['starts_at', 'ends_at']);
    expect(JSON.parse(encodeAlert(resolved))).toMatchObject({
      status: 'resolved',
      ends_at: '2026-11-22T10:09:00Z',
    });
  });
});

describe('readEventsJsonl on hostile input', () => {
  it('skips a line over maxLineBytes with its number, without holding it, and goes on', async () => {
    const big = JSON.stringify({ ...MINIMAL, event_id: 'EVT-big', request_preview: 'x'.repeat(10_000) });
    const text = [JSON.stringify(MINIMAL), big, JSON.stringify({ ...MINIMAL, event_id: 'EVT-2' })].join('\n');
    const errors: LineError[] = [];
    const seen: [string, number][] = [];
    const chunks = Array.from({ length: Math.ceil(text.length / 100) }, (_, i) =>
      Buffer.from(text.slice(i * 100, i * 100 + 100)),
    );
    for await (const d of readEventsJsonl(Readable.from(chunks), (e) => errors.push(e), {
      maxLineBytes: 4096,
    })) {
      seen.push([d.event.event_id, d.line]);
    }
    expect(seen).toEqual([
      [MINIMAL.event_id, 1],
      ['EVT-2', 3],
    ]);
    expect(errors).toEqual([
      { line: 2, message: `line of ${big.length} bytes is over the limit of 4096; skipped` },
    ]);
  });
});
