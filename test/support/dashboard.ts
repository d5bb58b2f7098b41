import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  METRIC_ALERT_NOTIFICATIONS,
  METRIC_ALERTS,
  METRIC_COST,
  METRIC_DETECT_DROPPED,
  METRIC_DETECT_INCIDENTS_REFUSED,
  METRIC_ENFORCEMENT_TRANSITIONS,
  METRIC_EVENTS,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GUARDRAIL_DURATION,
  METRIC_RATELIMIT_DECISIONS,
  METRIC_RATELIMIT_ENFORCED_DROPPED,
  METRIC_RATELIMIT_STORE_ERRORS,
  METRIC_REQUESTS,
  METRIC_TELEMETRY_ERRORS,
} from '@llmsec/core';
import * as DETECTOR from '../../packages/detector/src/service/metrics.ts';
import type { PrometheusHandle } from './prometheus.ts';

/**
 * The llmsec Grafana dashboard as data for tests: its PromQL queries with Grafana's variables
 * replaced by concrete values, and the Prometheus series names llmsec's instruments produce.
 * Used by test/deploy-*.test.ts and by the end-to-end check against the running chat API.
 */

export const DASHBOARD_PATH = fileURLToPath(
  new URL('../../deploy/grafana/dashboards/llmsec.json', import.meta.url),
);

/** Instrument kind per metric name of core's metric-names.ts (the comments there say which). */
export const METRIC_KINDS: Readonly<Record<string, 'counter' | 'histogram'>> = {
  [METRIC_EVENTS]: 'counter',
  [METRIC_REQUESTS]: 'counter',
  [METRIC_COST]: 'counter',
  [METRIC_GUARDRAIL_DURATION]: 'histogram',
  [METRIC_GEN_AI_TOKEN_USAGE]: 'histogram',
  [METRIC_GEN_AI_OPERATION_DURATION]: 'histogram',
  [METRIC_TELEMETRY_ERRORS]: 'counter',
  [METRIC_ALERTS]: 'counter',
  [METRIC_DETECT_DROPPED]: 'counter',
  [METRIC_DETECT_INCIDENTS_REFUSED]: 'counter',
  [METRIC_ALERT_NOTIFICATIONS]: 'counter',
  [METRIC_RATELIMIT_DECISIONS]: 'counter',
  [METRIC_RATELIMIT_STORE_ERRORS]: 'counter',
  [METRIC_RATELIMIT_ENFORCED_DROPPED]: 'counter', // observable: the Prometheus exporter adds _total too
  [METRIC_ENFORCEMENT_TRANSITIONS]: 'counter',
};

/** The detector service's own counters and histograms (packages/detector/src/service/metrics.ts). */
export const DETECTOR_METRIC_KINDS: Readonly<Record<string, 'counter' | 'histogram'>> = {
  [DETECTOR.METRIC_RECORDS_RECEIVED]: 'counter',
  [DETECTOR.METRIC_RECORDS_ACCEPTED]: 'counter',
  [DETECTOR.METRIC_RECORDS_REJECTED]: 'counter',
  [DETECTOR.METRIC_REQUESTS_REFUSED]: 'counter',
  [DETECTOR.METRIC_CONNECTIONS_REFUSED]: 'counter',
  [DETECTOR.METRIC_EXPORT_REQUESTS]: 'counter',
  [DETECTOR.METRIC_VALUES_DROPPED]: 'counter',
  [DETECTOR.METRIC_ANSWERS_UNSHIPPED]: 'counter',
  [DETECTOR.METRIC_ENFORCEMENT_ACTIONS]: 'counter',
  [DETECTOR.METRIC_EVENT_LAG]: 'histogram',
};

/**
 * Prometheus series names of an OTel instrument as the 0.301 Prometheus exporter serves them:
 * dots become underscores, monotonic counters gain `_total`, histograms `_bucket/_sum/_count`;
 * no unit suffix is appended.
 */
export function prometheusSeriesNames(instrument: string, kind: 'counter' | 'histogram'): string[] {
  const base = instrument.replace(/[^a-zA-Z0-9_:]/g, '_');
  return kind === 'counter' ? [`${base}_total`] : [`${base}_bucket`, `${base}_sum`, `${base}_count`];
}

/** Every Prometheus series name llmsec's metrics can produce. */
/** Series names of the detector service's metrics (its own /metrics, job `detector`), gauges included. */
export function detectorSeriesNames(): Set<string> {
  const names = new Set<string>(
    [DETECTOR.METRIC_QUEUE_DEPTH, DETECTOR.METRIC_QUEUE_BYTES, DETECTOR.METRIC_STATE_HEALTHY].map((n) => n.replace(/\./g, '_')),
  );
  for (const [instrument, kind] of Object.entries(DETECTOR_METRIC_KINDS)) {
    for (const name of prometheusSeriesNames(instrument, kind)) names.add(name);
  }
  return names;
}

export function knownSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [instrument, kind] of Object.entries(METRIC_KINDS)) {
    for (const name of prometheusSeriesNames(instrument, kind)) names.add(name);
  }
  return names;
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  /** As written in the dashboard, Grafana variables included. */
  expr: string;
  instant: boolean;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ refId?: string; expr?: string; instant?: boolean }>;
  panels?: Panel[];
}

export interface Dashboard {
  panels: Panel[];
  [key: string]: unknown;
}

export function loadDashboard(path: string = DASHBOARD_PATH): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** Every panel target's PromQL (rows' nested panels included). */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: Panel[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string' && target.expr.trim() !== '') {
          out.push({
            panel: panel.title ?? '(untitled)',
            refId: target.refId ?? '?',
            expr: target.expr,
            instant: target.instant === true,
          });
        }
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export interface Substitutions {
  /** Replaces `$__rate_interval`. With a 1 s scrape, 10s holds several samples. @default '10s' */
  rateInterval?: string;
  /** Replaces `$__interval`. @default '5s' */
  interval?: string;
  /** Replaces `$__range`. @default '1m' */
  range?: string;
  /** Dashboard variables (`$model`, `${model}`); an "All" multi-value variable is `.*`. @default { model: '.*' } */
  vars?: Record<string, string>;
}

/** The query Grafana would send, with its built-in and dashboard variables filled in. */
export function substituteVariables(expr: string, subs: Substitutions = {}): string {
  const vars: Record<string, string> = {
    __rate_interval: subs.rateInterval ?? '10s',
    __interval: subs.interval ?? '5s',
    __range: subs.range ?? '1m',
    ...(subs.vars ?? { model: '.*' }),
  };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = vars[name];
    if (value === undefined) throw new Error(`no value for variable ${whole} in: ${expr}`);
    return value;
  });
  return out;
}

/**
 * Metric names a PromQL expression reads: identifiers left once label matchers, grouping
 * clauses, ranges, strings and function calls are removed.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const end = m.index + m[0].length;
    if (/^\s*\(/.test(stripped.slice(end))) continue; // a function or aggregation
    if (m.index > 0 && /[0-9.]/.test(stripped[m.index - 1] ?? '')) continue; // the "e" of 1e3
    if (keywords.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

export interface MissingData {
  query: DashboardQuery;
  /** The query as sent to Prometheus. */
  promql: string;
  /** Why: a time-out with the last result, or Prometheus's error. */
  error: string;
}

/**
 * Runs every query until it returns a finite sample or the shared deadline passes, and lists
 * those that never did: empty means every panel of the dashboard has data. This is the check
 * to run against a live chat API (scraped by `startPrometheus`).
 */
export async function queriesWithoutData(
  prom: Pick<PrometheusHandle, 'waitForData'>,
  options: { queries?: DashboardQuery[]; substitutions?: Substitutions; timeoutMs?: number } = {},
): Promise<MissingData[]> {
  const queries = options.queries ?? dashboardQueries(loadDashboard());
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const missing: MissingData[] = [];
  for (const query of queries) {
    const promql = substituteVariables(query.expr, options.substitutions);
    try {
      await prom.waitForData(promql, { timeoutMs: Math.max(0, deadline - Date.now()) });
    } catch (err) {
      missing.push({ query, promql, error: (err as Error).message });
    }
  }
  return missing;
}
