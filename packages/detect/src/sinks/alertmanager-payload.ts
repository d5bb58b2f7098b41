import type { Alert } from '@llmsec/core';

/** One alert of Alertmanager's API v2 `POST /api/v2/alerts` body (postableAlert in its OpenAPI spec). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface PayloadOptions {
  /** Trace viewer link with a `{trace_id}` placeholder, e.g. `http://localhost:16686/trace/{trace_id}`. */
  traceUrlTemplate?: string;
  /** generatorURL when the alert has no trace id (or no template is set). */
  generatorUrl?: string;
  /** How many trace links go into the `trace_links` annotation. */
  maxTraceLinks: number;
}

/** Labels llmsec sets itself; a group label of the same name is renamed `group_<name>`. */
const RESERVED_LABELS = new Set(['alertname', 'severity', 'rule']);
/** Annotation values are bounded: a receiver (chat, pager) has message size limits too. */
export const MAX_ANNOTATION_CHARS = 4_096;

/**
 * Maps an alert to Alertmanager's model. Alertmanager identifies an alert by its label set, so
 * labels hold only the identity (alertname = rule id, severity, rule, group labels) and
 * everything else goes into annotations. `endsAt` is set here only on resolve: a firing
 * alert's end is the sink's business (AlertmanagerSink stamps it at each POST, a few re-send
 * intervals ahead, and re-sends the alert to keep it active).
 */
export function toAlertmanagerAlert(alert: Alert, options: PayloadOptions): AlertmanagerAlert {
  const labels: Record<string, string> = {
    alertname: alert.rule,
    severity: alert.severity,
    rule: alert.rule,
  };
  for (const [name, value] of Object.entries(alert.labels)) {
    if (typeof value !== 'string' || value.length === 0) continue;
    let clean = sanitizeLabelName(name);
    if (RESERVED_LABELS.has(clean)) clean = `group_${clean}`;
    // Two names that sanitise alike: the first one wins, the label set stays stable.
    if (!(clean in labels)) labels[clean] = value;
  }

  const groupText = Object.entries(alert.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const traceIds = traceIdsOf(alert);
  const annotations: Record<string, string> = {
    summary: (alert.title ?? alert.rule) + (groupText ? ` (${groupText})` : ''),
    description: alert.description,
    alert_id: alert.alert_id,
  };
  if (alert.runbook_url) annotations.runbook_url = alert.runbook_url;
  if (alert.evidence.length > 0) annotations.evidence = alert.evidence.join(', ');
  if (alert.user_ids.length > 0) annotations.user_ids = alert.user_ids.join(', ');
  // A cross_group rule's counted values (addresses, keys): annotations, never labels, so the
  // label set stays the incident's identity, bounded as every other rule's.
  for (const [field, values] of Object.entries(alert.across ?? {}))
    if (Array.isArray(values) && values.length > 0)
      annotations[`across_${sanitizeLabelName(field)}`] = values.join(', ');
  if (options.traceUrlTemplate !== undefined && traceIds.length > 0) {
    annotations.trace_links = traceIds
      .slice(0, options.maxTraceLinks)
      .map((id) => traceUrl(options.traceUrlTemplate as string, id))
      .join(' ');
  }
  for (const key of Object.keys(annotations)) {
    const v = annotations[key] as string;
    if (v.length > MAX_ANNOTATION_CHARS) annotations[key] = `${v.slice(0, MAX_ANNOTATION_CHARS - 1)}…`;
  }

  const out: AlertmanagerAlert = { labels, annotations, startsAt: rfc3339(alert.starts_at) };
  if (alert.status === 'resolved') out.endsAt = rfc3339(alert.ends_at ?? new Date().toISOString());
  const generator =
    options.traceUrlTemplate !== undefined && traceIds.length > 0
      ? traceUrl(options.traceUrlTemplate, traceIds[0] as string)
      : options.generatorUrl;
  if (generator !== undefined) out.generatorURL = generator;
  return out;
}

/**
 * Prometheus label-name syntax `[a-zA-Z_][a-zA-Z0-9_]*` (Alertmanager rejects anything else):
 * other characters become `_`, a leading digit gets a `_` prefix, and a leading `__` (reserved
 * for internal labels) is reduced to one `_`.
 */
export function sanitizeLabelName(name: string): string {
  let clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (clean.length === 0 || /^[0-9]/.test(clean)) clean = `_${clean}`;
  if (clean.startsWith('__')) clean = clean.replace(/^_+/, '_');
  return clean;
}

/** The trigger's trace first (it is the one that fired), then the evidence traces, no repeats. */
function traceIdsOf(alert: Alert): string[] {
  const ids: string[] = [];
  const add = (id: string | undefined): void => {
    if (id && !ids.includes(id)) ids.push(id);
  };
  add(alert.trigger?.trace_id);
  for (const id of alert.trace_ids ?? []) add(id);
  return ids;
}

export function traceUrl(template: string, traceId: string): string {
  return template.replaceAll('{trace_id}', encodeURIComponent(traceId));
}

/** Normalises to the UTC form Go's time parser accepts; leaves an unparseable value for Alertmanager to reject. */
function rfc3339(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}
