import fc from 'fast-check';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeEventLine } from '@llmsec/core';
import { decodeEventLineFast, eventTime, forEachLine } from '../src/replay.ts';

/** What core's decoder says: the decoded event, or the error message. */
function outcome(decode: (line: string) => unknown, line: string): unknown {
  try {
    return { ok: decode(line) };
  } catch (err) {
    return { error: (err as Error).message, type: (err as Error).name };
  }
}

const timestamp = fc.oneof(
  fc
    .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-11-22T10:00:00Z',
    '2026-11-22T10:00:00.5Z',
    '2026-11-22T10:00:00.123456Z',
    '2026-11-22T10:00:00.123+02:00',
    '2026-02-30T10:00:00.000Z',
    '2026-11-22T24:00:00.000Z',
    '2026-11-22T10:00:00.000z',
    '2026-11-22 10:00:00.000Z',
    '2026-11-22T10:00:00.0a0Z',
    'yesterday',
    '',
  ),
  fc.string(),
);

const value = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 2 }),
);

const rawEvent = fc.record(
  {
    event_id: fc.oneof({ weight: 5, arbitrary: fc.string({ minLength: 1 }) }, value),
    timestamp: fc.oneof({ weight: 5, arbitrary: timestamp }, value),
    category: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('guardrail_block', 'request_completed', 'new_thing') },
      value,
    ),
    severity: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('info', 'warning', 'alert', 'critical') },
      value,
    ),
    user_id: fc.oneof({ weight: 5, arbitrary: fc.string({ minLength: 1 }) }, value),
    session_id: value,
    conversation_id: value,
    trace_id: fc.oneof(value, fc.stringMatching(/^[0-9a-fA-F]{30,34}$/), fc.constant('0'.repeat(32))),
    span_id: fc.oneof(value, fc.stringMatching(/^[0-9a-fA-F]{15,17}$/), fc.constant('0'.repeat(16))),
    request_preview: value,
    metadata: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())), value),
    correlated_events: fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer())), fc.array(value), value),
    extra: value,
  },
  { requiredKeys: [] },
);

const MINIMAL = {
  event_id: 'EVT-1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'mallory',
};

describe('replay reader', () => {
  it('decodes exactly like core (events and error messages) on random lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 9, arbitrary: rawEvent.map((o) => JSON.stringify(o)) },
          { weight: 1, arbitrary: fc.string() },
        ),
        (line) => {
          expect(outcome(decodeEventLineFast, line)).toEqual(outcome(decodeEventLine, line));
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
  });

  it('cuts over-long fields exactly as core does (core capEventFields): source_ip, metadata, previews', () => {
    // Long strings at and around each cap, an emoji across it, and far over it; the short cut
    // took these whole. "Far over" is 16 times the largest cap in the property: at a megabyte a
    // quarter of its 300 lines carried megabytes (520 MB stringified and decoded twice, ~10 s on
    // an idle core, 108 s and a timeout at load 10 on 2 cores); every field at a megabyte is one
    // line below, decoded by both.
    const long = (n: number, c: string) =>
      fc.constantFrom(c.repeat(n), c.repeat(n + 1), `${c.repeat(n - 1)}😈x`, c.repeat(1 << 14));
    const hostile = fc.record(
      {
        source_ip: long(64, 'i'),
        service: long(256, 's'),
        description: long(1024, 'd'),
        request_preview: long(500, 'q'),
        response_preview: long(500, 'r'),
        session_id: long(256, 'x'),
        metadata: fc.record({
          payload_fingerprint: long(1024, 'f'),
          tags: fc.array(long(1024, 't'), { maxLength: 2 }),
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(hostile, (fields) => {
        const line = JSON.stringify({ ...MINIMAL, ...fields });
        const fast = decodeEventLineFast(line);
        expect(fast).toEqual(decodeEventLine(line));
        if (fields.source_ip !== undefined) expect(fast.event.source_ip!.length).toBeLessThanOrEqual(64);
        const fp = fast.event.metadata?.payload_fingerprint;
        if (typeof fp === 'string') expect(fp.length).toBeLessThanOrEqual(1024);
      }),
      { numRuns: 300, seed: 12 },
    );
    const mb = (c: string) => c.repeat(1 << 20);
    const huge = JSON.stringify({
      ...MINIMAL,
      source_ip: mb('i'),
      service: mb('s'),
      description: mb('d'),
      request_preview: mb('q'),
      response_preview: mb('r'),
      session_id: mb('x'),
      metadata: { payload_fingerprint: mb('f'), tags: [mb('t'), mb('t')] },
    });
    expect(decodeEventLineFast(huge)).toEqual(decodeEventLine(huge));
    expect(decodeEventLineFast(huge).event.description!.length).toBeLessThanOrEqual(1024);
    // One address once cut: a megabyte differing past 64 units.
    const ip = (tail: string) =>
      decodeEventLineFast(JSON.stringify({ ...MINIMAL, source_ip: `${'1'.repeat(1 << 20)}${tail}` })).event
        .source_ip;
    expect(ip('a')).toBe('1'.repeat(64));
    expect(ip('b')).toBe(ip('a'));
  });

  it('parses canonical timestamps across second boundaries like core', () => {
    const base = Date.parse('2026-12-31T23:59:58.000Z');
    for (let ms = 0; ms < 3_000; ms += 7) {
      const ts = new Date(base + ms).toISOString();
      expect(eventTime(ts)).toBe(base + ms);
    }
    expect(eventTime('2026-02-30T10:00:00.000Z')).toBeNaN();
  });

  it('splits LF and CRLF lines across chunk boundaries, keeping a last line without newline', async () => {
    const lines: string[] = [];
    await forEachLine(Readable.from(['a\r', '\nbb\nc', 'cc\n\n', 'd']), (l) => lines.push(l));
    expect(lines).toEqual(['a', 'bb', 'ccc', '', 'd']);
  });

  it('splits byte chunks that cut lines and multi-byte characters anywhere', async () => {
    const text = 'é1\r\n€€2\n\n𝄞3\nlast é';
    const bytes = Buffer.from(text, 'utf8');
    const want = ['é1', '€€2', '', '𝄞3', 'last é'];
    for (let cut = 1; cut < bytes.length; cut++) {
      for (const size of [1, 2, 3, 5]) {
        const chunks = [bytes.subarray(0, cut)];
        for (let at = cut; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
        const lines: string[] = [];
        await forEachLine(Readable.from(chunks), (l) => lines.push(l));
        expect(lines).toEqual(want);
      }
    }
  });

  it('joins lines cut between string and byte chunks of one stream', async () => {
    const lines: string[] = [];
    const chunks = ['a', Buffer.from('é\r'), '\nc', Buffer.from('d'), Buffer.from('\ne\n'), 'f'];
    await forEachLine(Readable.from(chunks), (l) => lines.push(l));
    expect(lines).toEqual(['aé', 'cd', 'e', 'f']);
  });
});
