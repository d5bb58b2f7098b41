// An id written as an integer past 2^53 is the same id on the JSONL readers (core's
// decodeEventLine: test-rules; detect's decodeEventLineFast: replay) as on the detector, which
// reads it as an OTLP int64 attribute and keeps its exact decimal text (process-int64-ids).
// JSON.parse made the line's 9007199254740993 the double 9007199254740992: the same event was
// user ...993 to the detector and ...992 to replay, and users ...992 and ...993 one group.
import { Buffer } from 'node:buffer';
import { decodeEventLine } from '@llmsec/core';
import { decodeEventLineFast } from '@llmsec/detect/replay';
import { describe, expect, it } from 'vitest';
import { decodeLogs } from '../src/otlp/decode.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/otlp/limits.ts';
import { logRecordToEvent } from '../src/otlp/to-event.ts';

// Protobuf by hand: no JS SDK can write an int64 past 2^53 (its numbers are doubles).
function varint(v: bigint): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}
const ld = (field: number, payload: number[]): number[] => [
  ...varint(BigInt((field << 3) | 2)),
  ...varint(BigInt(payload.length)),
  ...payload,
];
const text = (field: number, s: string): number[] => ld(field, [...Buffer.from(s, 'utf8')]);
const kvString = (key: string, value: string): number[] => ld(6, [...text(1, key), ...ld(2, text(1, value))]);
const kvInt = (key: string, value: bigint): number[] =>
  ld(6, [...text(1, key), ...ld(2, [...varint(3n << 3n), ...varint(value)])]);

/** The detector's event for an llmsec log record whose user.id and session.id are int64s. */
function viaOtlp(user: bigint, session: bigint): { user_id: string; session_id?: string } {
  const record = [
    ...text(12, 'llmsec.guardrail_block'),
    ...kvString('llmsec.event.id', 'EVT-1'),
    ...kvString('llmsec.event.category', 'guardrail_block'),
    ...kvString('llmsec.event.severity', 'warning'),
    ...kvString('llmsec.event.timestamp', '2026-12-05T10:00:00.000Z'),
    ...kvInt('user.id', user),
    ...kvInt('session.id', session),
  ];
  const bytes = Uint8Array.from(ld(1, ld(2, ld(2, record))));
  const [decoded] = decodeLogs(bytes, 'protobuf', DEFAULT_DECODE_LIMITS);
  return logRecordToEvent(decoded!)!;
}

const line = (user: string, session: string, extra = ''): string =>
  `{"event_id":"EVT-1","timestamp":"2026-12-05T10:00:00.000Z","category":"guardrail_block",` +
  `"severity":"warning","user_id":${user},"session_id":${session}${extra}}`;

describe('integer ids past 2^53: JSONL readers and the detector agree', () => {
  it.each([
    ['9007199254740993', '9007199254740995'],
    ['-9223372036854775807', '9223372036854775807'],
    ['12345678901234567', '-9007199254740993'],
  ])('user %s, session %s', (user, session) => {
    const otlp = viaOtlp(BigInt(user), BigInt(session));
    expect(otlp.user_id).toBe(user);
    expect(otlp.session_id).toBe(session);
    for (const decode of [decodeEventLine, decodeEventLineFast]) {
      const { event } = decode(line(user, session));
      // Before: '9007199254740992' and '9007199254740996' (the doubles' text).
      expect(event.user_id).toBe(user);
      expect(event.session_id).toBe(session);
    }
  });

  it('reads only the top level, the last of a repeated key, and keeps a safe or non-integer number as parsed', () => {
    for (const decode of [decodeEventLine, decodeEventLineFast]) {
      // A nested "user_id" and one inside a string are not the event's.
      const nested = line(
        '9007199254740993',
        '"s"',
        ',"metadata":{"user_id":1,"x":"\\"user_id\\":2"},"description":"user_id:3"',
      );
      expect(decode(nested).event.user_id).toBe('9007199254740993');
      // JSON.parse takes the last of a repeated key: so do the digits.
      const repeated = `${line('9007199254740993', '"s"').slice(0, -1)},"user_id":9007199254740995}`;
      expect(decode(repeated).event.user_id).toBe('9007199254740995');
      // An escaped key is the same key.
      const escaped = line('1', '"s"', ',"user\\u005fid":18014398509481985');
      expect(decode(escaped).event.user_id).toBe('18014398509481985');
      // No digits to keep: an exponent or a fraction stays the double's text, a safe integer its own.
      expect(decode(line('1e16', '"s"')).event.user_id).toBe('10000000000000000');
      expect(decode(line('9007199254740993.0', '"s"')).event.user_id).toBe('9007199254740992');
      expect(decode(line('42', '"s"')).event.user_id).toBe('42');
    }
  });
});
