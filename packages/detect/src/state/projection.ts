import type { Metadata, SecurityEvent } from '@llmsec/core';
import { eventFingerprint, FINGERPRINT_FIELD } from '../fields.ts';
import type { RuleDefinition } from '../types.ts';

/**
 * The part of an event the shared state keeps while it is pending: what the alert names (ids,
 * user, trace, span) and the fields the table's rules read, nothing else, so a pending event
 * costs tens of bytes in Redis, not the whole event. The payload fingerprint is kept as
 * `metadata.payload_fingerprint` (what eventFingerprint reads first), so a
 * 500-character preview is not stored just to be hashed again.
 */
export type Projector = (event: SecurityEvent) => SecurityEvent;

/** Fields every projection keeps (what an alert names). */
export const ALWAYS_KEPT: readonly string[] = [
  'event_id',
  'category',
  'severity',
  'user_id',
  'trace_id',
  'span_id',
];

export function fieldsOf(rule: RuleDefinition): string[] {
  const paths = [rule.group_by ?? 'user_id'];
  for (const w of rule.match.where ?? []) paths.push(w.field);
  const c = rule.condition;
  switch (c.kind) {
    case 'distinct':
    case 'ratio':
    case 'identical':
      paths.push(c.field);
      break;
    case 'monotonic':
      paths.push(...c.value);
      break;
    case 'baseline':
      paths.push(...c.sum);
      break;
    case 'cross_group':
      paths.push(c.across);
      break;
    case 'count':
    case 'single':
      break;
  }
  return paths;
}

export function projector(paths: Iterable<string>): Projector {
  const top = new Set<string>();
  const meta = new Set<string>();
  let fingerprint = false;
  for (const p of paths) {
    if (p === FINGERPRINT_FIELD) fingerprint = true;
    else if (p.startsWith('metadata.')) meta.add(p.slice('metadata.'.length));
    else top.add(p);
  }
  for (const always of ALWAYS_KEPT) top.delete(always);
  const topKeys = [...top] as (keyof SecurityEvent)[];
  const metaKeys = [...meta];
  return (event) => {
    const out: SecurityEvent = {
      event_id: event.event_id,
      timestamp: '',
      category: event.category,
      severity: event.severity,
      user_id: event.user_id,
    };
    if (event.trace_id !== undefined) out.trace_id = event.trace_id;
    if (event.span_id !== undefined) out.span_id = event.span_id;
    const o = out as unknown as Record<string, unknown>;
    for (const k of topKeys) {
      const v = event[k];
      if (v !== undefined) o[k] = v;
    }
    let m: Metadata | undefined;
    const src = event.metadata;
    if (src !== undefined) {
      for (const k of metaKeys) {
        const v = src[k];
        if (v !== undefined) (m ??= {})[k] = v;
      }
    }
    if (fingerprint) {
      const fp = eventFingerprint(event);
      if (fp !== undefined) (m ??= {}).payload_fingerprint = fp;
    }
    if (m !== undefined) out.metadata = m;
    return out;
  };
}
