// One user id, five cuts (616ce1f): the SDK (normaliseId), core's JSONL reader (decodeEvent), the
// detector's OTLP log records, the limiter's subjects (userSubject for alerts and x-user-id,
// sanitizeSubject for a subject function's). Whatever path an id takes, it must name one group
// and one bucket, or one user becomes two: an id the SDK cut is left as it is by every reader, a
// raw id another producer wrote is cut by the readers as the SDK cuts it, and the limiter's
// subject of the SDK's id is the subject of the raw id. Random ids around the 256-unit edge:
// emoji (surrogate pairs) across units 254-258, lone high and low surrogates, spaces at the
// edge, ids already cut, ids in the limiter's reserved namespaces.
import { decodeEvent, eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { userSubject } from '@llmsec/core/internal';
import { sanitizeSubject } from '../packages/ratelimit/src/http/subject.ts';
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import type { Attributes, DecodedLogRecord } from '../packages/detector/src/otlp/types.ts';
import { logRecordToEvent, newBatch } from '../packages/detector/src/service/record-events.ts';
import { contextWithSecurity, getSecurityContext, normaliseId } from '../packages/sdk/src/context.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PIECES = ['a', 'Z', '7', ' ', 'é', '中', '😀', '👩‍💻', '\ud83d', '\ude00', 'ip:', 'key:', '\t'];

/** An id whose length lands near 256 units (240-262), built of the pieces above. */
function randomId(random: () => number): string {
  const target = 240 + Math.floor(random() * 23);
  let id = random() < 0.1 ? PIECES[10 + Math.floor(random() * 2)]! : '';
  while (id.length < target) {
    // Mostly plain letters, so the special pieces land at every offset of the edge.
    id += random() < 0.7 ? 'a' : PIECES[Math.floor(random() * PIECES.length)]!;
  }
  return id;
}

/** The emoji's pair placed at every offset across the edge, and already-cut forms. */
function edgeIds(): string[] {
  const ids: string[] = [];
  for (let at = 250; at <= 258; at++) {
    ids.push('a'.repeat(at) + '😀' + 'b'.repeat(5));
    ids.push('a'.repeat(at) + '\ud83d' + 'b'.repeat(5)); // lone high
    ids.push('a'.repeat(at) + '\ude00' + 'b'.repeat(5)); // lone low
    ids.push('a'.repeat(at) + ' ' + 'b'.repeat(5));
  }
  ids.push('a'.repeat(255), 'a'.repeat(255) + '\ud83d', 'a'.repeat(254) + '😀', 'ip:' + 'a'.repeat(300));
  return ids;
}

function jsonlUser(userId: string): string {
  const line = JSON.stringify({
    event_id: 'e1',
    timestamp: '2026-11-22T10:00:00.000Z',
    category: 'auth_failure',
    severity: 'warning',
    user_id: userId,
    session_id: userId,
  });
  const event = decodeEvent(JSON.parse(line)).event;
  expect(event.session_id).toBe(event.user_id);
  return event.user_id;
}

function otlpUser(userId: string): string {
  const event: SecurityEvent = {
    event_id: 'e1',
    timestamp: '2026-11-22T10:00:00.000Z',
    category: 'auth_failure',
    severity: 'warning',
    user_id: userId,
    session_id: userId,
  };
  const record = {
    timeMs: 0,
    eventName: 'llmsec.auth_failure',
    severityNumber: 13,
    body: null,
    attributes: eventToAttributes(event) as Attributes,
    traceId: '',
    spanId: '',
    resource: {},
    scope: '',
  } as DecodedLogRecord;
  const out = newBatch();
  expect(logRecordToEvent(record, out)).toBeUndefined();
  const got = out.events[0]!;
  expect(got.session_id).toBe(got.user_id);
  return got.user_id;
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;
/** `cut`, a prefix of `whole`, ends inside one of whole's surrogate pairs. */
const splitsPair = (cut: string, whole: string): boolean =>
  isHigh(cut.charCodeAt(cut.length - 1)) && isLow(whole.charCodeAt(cut.length));

describe('an id cut on any path names the same user', () => {
  const random = rng(616);
  const ids = [...edgeIds(), ...Array.from({ length: 3000 }, () => randomId(random))];

  it('the SDK cut is left alone by every reader, and a raw id is cut by each as the SDK cuts it', () => {
    for (const raw of ids) {
      const sdk = normaliseId(raw)!;
      const trimmed = raw.trim();
      // A cut never ends in the first half of a pair (a plain slice did, at an emoji's edge).
      expect(splitsPair(sdk, trimmed), JSON.stringify(raw)).toBe(false);
      expect(sdk.isWellFormed()).toBe(true);
      expect(sdk.length).toBeLessThanOrEqual(256);
      expect(normaliseId(sdk)).toBe(sdk);
      expect(jsonlUser(sdk)).toBe(sdk);
      expect(otlpUser(sdk)).toBe(sdk);
      // Another producer's raw (trimmed) id: the readers cut it to the SDK's id (they do not
      // trim: whitespace the cut leaves at the end stays, the SDK's own ids have none).
      // (A lone surrogate is U+FFFD in the SDK's id; a reader keeps another producer's, and
      // cuts before a lone high one at the edge: only the readers agree there.)
      if (trimmed.isWellFormed()) {
        expect(jsonlUser(trimmed).trimEnd()).toBe(sdk);
        expect(otlpUser(trimmed).trimEnd()).toBe(sdk);
      }
      expect(jsonlUser(trimmed)).toBe(otlpUser(trimmed));
    }
  });

  it('the SDK id survives a hop: baggage to the next service, read there by its SDK', () => {
    const propagator = new W3CBaggagePropagator();
    for (const raw of ids) {
      const sdk = normaliseId(raw)!;
      const carrier: Record<string, string> = {};
      propagator.inject(contextWithSecurity({ userId: raw }, ROOT_CONTEXT), carrier, defaultTextMapSetter);
      const next = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      expect(carrier.baggage, JSON.stringify(raw)).toBeDefined();
      expect(getSecurityContext(next).userId, JSON.stringify(raw)).toBe(sdk);
      // The application passing the id it read back in keeps it.
      expect(getSecurityContext(contextWithSecurity({ userId: sdk }, ROOT_CONTEXT)).userId).toBe(sdk);
    }
  });

  it("the limiter's subject of the SDK's id (an alert's user) is the subject of the raw id", () => {
    for (const raw of ids) {
      const sdk = normaliseId(raw)!;
      expect(userSubject(sdk), JSON.stringify(raw)).toBe(userSubject(raw));
      expect(sanitizeSubject(sdk), JSON.stringify(raw)).toBe(sanitizeSubject(raw));
      const id = raw.trim();
      const whole = /^(?:ip|key):/.test(id) ? `user:${id}` : id;
      expect(splitsPair(userSubject(raw)!, whole), JSON.stringify(raw)).toBe(false);
    }
  });
});
