// The SDK cuts what it records with the caps every reader applies (core's capEventFields,
// docs/formats.md "Field caps"), and with the same cut: an address or metadata string with an
// emoji across the cap was left with half of it by a plain slice (a lone surrogate, "\ud83d" in
// JSON), while a reader given the same raw value keeps one unit less: one attacker, two keys.
import { decodeEvent } from '@llmsec/core';
import { EVENT_FIELD_CAPS } from '@llmsec/core/internal';
import { describe, expect, it } from 'vitest';
import { SecurityEvents } from '../src/index.ts';

const across = (n: number, c: string) => `${c.repeat(n - 1)}😈${c}`; // the pair at units n..n+1

describe('SDK field caps', () => {
  it('cuts source_ip and metadata strings as a reader cuts the same raw values', () => {
    const raw = {
      source_ip: across(EVENT_FIELD_CAPS.sourceIp, 'a'),
      tenant: across(EVENT_FIELD_CAPS.metadataString, 't'),
      description: across(EVENT_FIELD_CAPS.description, 'd'),
    };
    const recorded = new SecurityEvents().authFailure({
      userId: 'mallory',
      reason: 'bad_password',
      sourceIp: raw.source_ip,
      description: raw.description,
      metadata: { tenant: raw.tenant },
    });
    const read = decodeEvent({
      event_id: 'EVT-1',
      timestamp: '2026-11-22T10:00:00.000Z',
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'mallory',
      source_ip: raw.source_ip,
      description: raw.description,
      metadata: { tenant: raw.tenant },
    }).event;
    expect(recorded.source_ip).toBe('a'.repeat(EVENT_FIELD_CAPS.sourceIp - 1));
    expect(recorded.source_ip).toBe(read.source_ip);
    expect(recorded.description).toBe(read.description);
    expect(recorded.metadata!.tenant).toBe(read.metadata!.tenant);
    expect(JSON.stringify(recorded)).not.toMatch(/\\ud8/i);
  });
});
