// Holds alert JSONL (replay's stdout, a detector's alerts file) to the scenarios' expectations,
// as docs/formats.md defines the lines: one firing and one resolved line per incident under one
// alert_id, labels the group, user_ids every implicated user, starts_at / ends_at in event
// time, evidence ids of the scenario's events, trace_ids those of the evidence in its order.
import type { ScenarioRun } from './index.ts';

export interface AlertLine {
  alert_id: string;
  rule: string;
  severity: string;
  status: string;
  labels: Record<string, string>;
  user_ids: string[];
  starts_at: string;
  ends_at?: string;
  description: string;
  evidence: string[];
  trace_ids?: string[];
}

/** Each built-in rule's severity, as the scenarios expect it on an alert line. */
export const SEVERITY: Record<string, string> = {
  rapid_guardrail_blocks: 'alert',
  output_filter_bypass: 'critical',
  escalating_complexity: 'alert',
  systematic_enumeration: 'alert',
  high_block_rate: 'warning',
  identical_requests: 'warning',
  escalating_length: 'warning',
  system_prompt_leakage: 'critical',
  token_usage_anomaly: 'warning',
  coordinated_campaign: 'alert',
  indirect_prompt_injection: 'alert',
  tool_injection_variety: 'alert',
  auth_failure_burst: 'warning',
  credential_stuffing: 'alert',
  rate_limit_persistence: 'warning',
  cost_limit_abuse: 'alert',
  tool_abuse_repeated: 'alert',
};

export function parseAlerts(text: string): AlertLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AlertLine);
}

const iso = (ms: number): string => new Date(ms).toISOString();
const sameSet = (a: string[], b: string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** Per scenario name, what differs from its expectation ([] = as expected). */
export function checkAlerts(run: ScenarioRun, alerts: AlertLine[]): Map<string, string[]> {
  const result = new Map<string, string[]>(run.scenarios.map((s) => [s.name, []]));
  const byId = new Map<string, AlertLine[]>();
  for (const a of alerts) byId.set(a.alert_id, [...(byId.get(a.alert_id) ?? []), a]);
  const ownerOf = (a: AlertLine) =>
    run.scenarios.find((s) =>
      a.labels.fingerprint !== undefined
        ? s.fingerprints.includes(a.labels.fingerprint)
        : a.labels.source_ip !== undefined
          ? (s.addresses ?? []).includes(a.labels.source_ip)
          : s.users.includes(a.labels.user_id ?? ''),
    );
  const matched = new Set<string>();
  for (const s of run.scenarios) {
    const issues = result.get(s.name)!;
    const ids = new Set(s.events.map((e) => e.line.event_id as string));
    for (const x of s.expected) {
      const what = `${x.rule} ${JSON.stringify(x.labels)} from ${iso(x.startsAt)}`;
      const firing = alerts.filter(
        (a) =>
          a.rule === x.rule &&
          a.status === 'firing' &&
          a.starts_at === iso(x.startsAt) &&
          JSON.stringify(a.labels) === JSON.stringify(x.labels),
      );
      if (firing.length !== 1) {
        issues.push(`${what}: ${firing.length} firing lines (want 1)`);
        continue;
      }
      const id = firing[0]!.alert_id;
      matched.add(id);
      const lines = byId.get(id)!;
      const resolved = lines.filter((a) => a.status === 'resolved');
      if (lines.length !== 2 || resolved.length !== 1) {
        issues.push(`${what}: lines ${lines.map((a) => a.status).join(',')} (want firing,resolved)`);
        continue;
      }
      const r = resolved[0]!;
      if (r.ends_at !== iso(x.endsAt)) issues.push(`${what}: ends_at ${r.ends_at} (want ${iso(x.endsAt)})`);
      if (!sameSet(r.user_ids, x.users))
        issues.push(`${what}: user_ids ${JSON.stringify(r.user_ids)} (want ${JSON.stringify(x.users)})`);
      for (const a of lines) {
        if (a.severity !== SEVERITY[a.rule]) issues.push(`${what}: severity ${a.severity}`);
        if (!a.user_ids.every((u) => x.users.includes(u)))
          issues.push(`${what}: ${a.status} names ${JSON.stringify(a.user_ids)}`);
        if (a.evidence.length === 0 || a.evidence.length > 10)
          issues.push(`${what}: ${a.status} has ${a.evidence.length} evidence ids`);
        const foreign = a.evidence.filter((e) => !ids.has(e));
        if (foreign.length > 0)
          issues.push(`${what}: ${a.status} evidence not of this scenario: ${foreign.join(',')}`);
        const traces = [
          ...new Set(a.evidence.map((e) => run.traceOf.get(e)).filter((t) => t !== undefined)),
        ].slice(0, 10);
        if (JSON.stringify(a.trace_ids ?? []) !== JSON.stringify(traces)) {
          issues.push(
            `${what}: ${a.status} trace_ids ${JSON.stringify(a.trace_ids)} (want those of its evidence ${JSON.stringify(traces)})`,
          );
        }
      }
    }
  }
  for (const [id, lines] of byId) {
    if (matched.has(id)) continue;
    const a = lines[0]!;
    const owner = ownerOf(a);
    const text = `unexpected ${a.rule} ${JSON.stringify(a.labels)} from ${a.starts_at} (${lines.map((l) => l.status).join(',')})`;
    if (owner) result.get(owner.name)!.push(text);
    else result.set(`(no scenario) ${id}`, [text]);
  }
  return result;
}

/**
 * The weaker promise of a fleet whose replicas detected on their own for a while (degraded mode,
 * the detect README: alerts of that time may be duplicated across replicas, their starts and
 * users may differ): per scenario, what breaks "at least once, nothing missed, nothing false":
 * every expected incident (rule and labels) has a firing line, every alert id that fired has a
 * resolved line, and every line is one the run expects (its rule and labels, its severity, its
 * users among the expected ones).
 */
export function checkAlertsAtLeastOnce(run: ScenarioRun, alerts: AlertLine[]): Map<string, string[]> {
  const result = new Map<string, string[]>(run.scenarios.map((s) => [s.name, []]));
  const key = (rule: string, labels: Record<string, string>) => `${rule} ${JSON.stringify(labels)}`;
  const expected = new Map<string, string[]>();
  for (const s of run.scenarios)
    for (const x of s.expected) {
      const k = key(x.rule, x.labels);
      expected.set(k, [...(expected.get(k) ?? []), ...x.users]);
      if (!alerts.some((a) => a.status === 'firing' && key(a.rule, a.labels) === k))
        result.get(s.name)!.push(`${k}: no firing line (want at least one)`);
    }
  const resolvedIds = new Set(alerts.filter((a) => a.status === 'resolved').map((a) => a.alert_id));
  const other: string[] = [];
  for (const a of alerts) {
    const k = key(a.rule, a.labels);
    const users = expected.get(k);
    const owner = run.scenarios.find((s) => s.expected.some((x) => key(x.rule, x.labels) === k));
    const issues = owner ? result.get(owner.name)! : other;
    if (users === undefined) issues.push(`unexpected ${k} ${a.status} from ${a.starts_at}`);
    else if (!a.user_ids.every((u) => users.includes(u)))
      issues.push(`${k}: ${a.status} names ${JSON.stringify(a.user_ids)}`);
    if (a.severity !== SEVERITY[a.rule]) issues.push(`${k}: severity ${a.severity}`);
    if (a.status === 'firing' && !resolvedIds.has(a.alert_id))
      issues.push(`${k}: ${a.alert_id} fired, never resolved`);
  }
  if (other.length > 0) result.set('(no scenario)', other);
  return result;
}

/** The failures only, one line each, for an assertion message. */
export function failures(result: Map<string, string[]>): string[] {
  return [...result].flatMap(([name, issues]) => issues.map((i) => `${name}: ${i}`));
}

/** Expected incidents, for the log. */
export function expectedCount(run: ScenarioRun): number {
  return run.scenarios.reduce((n, s) => n + s.expected.length, 0);
}
