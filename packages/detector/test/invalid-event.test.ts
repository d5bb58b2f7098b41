import { describe, expect, it } from 'vitest';
import { invalidEventDetail } from '../src/service/invalid-event.ts';

const complete = {
  'llmsec.event.id': 'EVT-000000000001',
  'llmsec.event.category': 'guardrail_block',
  'llmsec.event.severity': 'warning',
  'llmsec.event.timestamp': '2026-12-05T02:00:00.000Z',
  'user.id': 'u-1',
};

describe('invalidEventDetail: what a sender must fix', () => {
  it('names the first required attribute missing or of the wrong kind', () => {
    for (const key of ['llmsec.event.id', 'llmsec.event.category', 'llmsec.event.timestamp', 'user.id']) {
      const attrs: Record<string, unknown> = { ...complete };
      delete attrs[key];
      expect(invalidEventDetail(attrs as never)).toBe(`missing string attribute "${key}"`);
    }
    // Present but of another kind: said so, not "missing" (which sent a sender looking for a typo).
    expect(invalidEventDetail({ ...complete, 'user.id': true })).toBe(
      'attribute "user.id" must be a string, not a boolean (boolValue)',
    );
    expect(invalidEventDetail({ ...complete, 'llmsec.event.id': ['a'] })).toBe(
      'attribute "llmsec.event.id" must be a string, not a list (arrayValue)',
    );
    expect(invalidEventDetail({ ...complete, 'llmsec.event.category': { a: 'b' } })).toBe(
      'attribute "llmsec.event.category" must be a string, not a map (kvlistValue)',
    );
    expect(invalidEventDetail({ ...complete, 'user.id': new Uint8Array([1]) })).toBe(
      'attribute "user.id" must be a string, not bytes (bytesValue)',
    );
    expect(invalidEventDetail({ ...complete, 'user.id': null })).toBe('missing string attribute "user.id"');
    expect(invalidEventDetail({ ...complete, 'user.id': '' })).toBe('attribute "user.id" is empty');
    // A number is read as its text (as a JSONL line's), except a timestamp.
    expect(invalidEventDetail({ ...complete, 'user.id': 42, 'llmsec.event.timestamp': 1 })).toBe(
      'attribute "llmsec.event.timestamp" must be a string, not a number',
    );
  });

  it("an optional string attribute of another kind (core's JSONL reader refuses the line alike)", () => {
    expect(invalidEventDetail({ ...complete, 'session.id': true })).toBe(
      'attribute "session.id" must be a string',
    );
    expect(invalidEventDetail({ ...complete, 'client.address': ['a'] })).toBe(
      'attribute "client.address" must be a string',
    );
  });

  it('correlated_events not a list, or with an entry that is no id (core refuses the line alike)', () => {
    for (const correlated of ['EVT-1', ['EVT-1', null], ['EVT-1', { a: 1 }], [true]]) {
      expect(invalidEventDetail({ ...complete, 'llmsec.event.correlated_events': correlated } as never)).toBe(
        'attribute "llmsec.event.correlated_events" must be a list of strings',
      );
    }
    // Numbers are ids' text, as the JSONL reader takes them: nothing to fix there.
    expect(invalidEventDetail({ ...complete, 'llmsec.event.correlated_events': ['EVT-1', 7] })).toBe(
      'not a complete security event',
    );
  });

  it('a severity outside the four, or a timestamp that is not RFC 3339 with a zone', () => {
    expect(invalidEventDetail({ ...complete, 'llmsec.event.severity': 'WARN' })).toBe(
      'attribute "llmsec.event.severity" must be one of info, warning, alert, critical',
    );
    const { 'llmsec.event.severity': _, ...noSeverity } = complete;
    expect(invalidEventDetail(noSeverity)).toMatch(/llmsec\.event\.severity/);
    expect(invalidEventDetail({ ...complete, 'llmsec.event.timestamp': '2026-12-05 02:00:00' })).toBe(
      'attribute "llmsec.event.timestamp" is not RFC 3339 with a zone',
    );
  });
});
