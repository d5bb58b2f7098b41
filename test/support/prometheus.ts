import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { getFreePort, waitUntil } from './ports.ts';
import { startServer, type ServerProcess } from './process.ts';

/**
 * A real Prometheus (the Debian `prometheus` binary, 2.42 in CI) for integration tests: it
 * scrapes the given targets, optionally evaluates rule files and sends alerts to an
 * Alertmanager, and answers PromQL through its HTTP API. Each instance gets a free port and a
 * temp dir (TSDB and config), both gone after `stop()`.
 */
export interface PrometheusOptions {
  /** `host:port` targets serving `/metrics`, e.g. `127.0.0.1:9464`. */
  scrapeTargets: string[];
  /** Absolute paths of rule files to load. */
  ruleFiles?: string[];
  /** Scrape and rule-evaluation interval. @default 1 */
  scrapeIntervalSec?: number;
  /** e.g. `http://127.0.0.1:9093`; alerting is off without it. */
  alertmanagerUrl?: string;
  /** The `job` label of the scraped targets. @default 'llmsec' */
  jobName?: string;
  /** @default '/metrics' */
  metricsPath?: string;
  /** @default 30000 */
  readyTimeoutMs?: number;
}

/** One series of an instant (`value`) or range (`values`) query. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export interface PromQueryResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  /** For vector and matrix results; scalar and string results are one `[time, value]` pair. */
  result: PromSeries[] | [number, string];
}

/** Prometheus refused a query (`errorType` is e.g. `bad_data` for a PromQL parse error). */
export class PromQueryError extends Error {
  readonly errorType: string;
  constructor(errorType: string, message: string) {
    super(`${errorType}: ${message}`);
    this.name = 'PromQueryError';
    this.errorType = errorType;
  }
}

export interface PrometheusHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly server: ServerProcess;
  /** Instant query at `time` (unix seconds; default now). Rejects with PromQueryError. */
  query(promql: string, time?: number): Promise<PromQueryResult>;
  /** Polls `query` until the result holds at least one finite sample; resolves with it. */
  waitForData(promql: string, options?: { timeoutMs?: number }): Promise<PromQueryResult>;
  /** GET `path` on the HTTP API (e.g. `/api/v1/rules`) and return its `data`. */
  api(path: string): Promise<unknown>;
  stop(): Promise<void>;
}

/** Builds the prometheus.yml the test instance runs with (exported for inspection in tests). */
export function prometheusConfig(options: PrometheusOptions): Record<string, unknown> {
  const interval = `${options.scrapeIntervalSec ?? 1}s`;
  const config: Record<string, unknown> = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: [
      {
        job_name: options.jobName ?? 'llmsec',
        metrics_path: options.metricsPath ?? '/metrics',
        static_configs: [{ targets: options.scrapeTargets }],
      },
    ],
  };
  if (options.ruleFiles && options.ruleFiles.length > 0) config.rule_files = options.ruleFiles;
  if (options.alertmanagerUrl !== undefined) {
    const am = new URL(options.alertmanagerUrl);
    config.alerting = {
      alertmanagers: [
        {
          api_version: 'v2',
          scheme: am.protocol.replace(':', ''),
          path_prefix: am.pathname === '/' ? undefined : am.pathname,
          static_configs: [{ targets: [am.host] }],
        },
      ],
    };
  }
  return config;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusHandle> {
  if (options.scrapeTargets.length === 0) throw new Error('startPrometheus: scrapeTargets is empty');
  const port = await getFreePort();
  const url = `http://127.0.0.1:${port}`;
  // Our own temp dir (startServer only cleans dirs it made): the config must exist before the spawn.
  const dir = await mkdtemp(join(tmpdir(), 'llmsec-prometheus-'));
  let server: ServerProcess;
  try {
    await writeFile(join(dir, 'prometheus.yml'), stringify(prometheusConfig(options)));
    server = await startServer(
      'prometheus',
      () => [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      {
        name: 'prometheus',
        dir,
        readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
        ready: async () => (await fetch(`${url}/-/ready`)).ok,
      },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data?: unknown; errorType?: string; error?: string };
    if (body.status !== 'success')
      throw new PromQueryError(body.errorType ?? 'unknown', body.error ?? res.statusText);
    return body.data;
  };

  const query = async (promql: string, time?: number): Promise<PromQueryResult> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
    });
    const body = (await res.json()) as {
      status: string;
      data?: PromQueryResult;
      errorType?: string;
      error?: string;
    };
    if (body.status !== 'success' || body.data === undefined) {
      throw new PromQueryError(body.errorType ?? 'unknown', body.error ?? res.statusText);
    }
    return body.data;
  };

  const waitForData = async (promql: string, { timeoutMs = 20_000 } = {}): Promise<PromQueryResult> => {
    let last: PromQueryResult | undefined;
    try {
      await waitUntil(
        async () => {
          last = await query(promql);
          return finiteValues(last).length > 0;
        },
        { timeoutMs, intervalMs: 250, what: `data for ${promql}` },
      );
    } catch (err) {
      // A parse error must surface as itself, not as a time-out.
      await query(promql);
      throw new Error(`${(err as Error).message}; last result: ${JSON.stringify(last?.result ?? null)}`);
    }
    return last as PromQueryResult;
  };

  return {
    url,
    server,
    query,
    waitForData,
    api,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every finite sample value of a result (NaN and ±Inf, e.g. a quantile of nothing, excluded). */
export function finiteValues(result: PromQueryResult): number[] {
  const raw: string[] = [];
  if (result.resultType === 'scalar' || result.resultType === 'string') {
    raw.push((result.result as [number, string])[1]);
  } else {
    for (const series of result.result as PromSeries[]) {
      if (series.value) raw.push(series.value[1]);
      for (const v of series.values ?? []) raw.push(v[1]);
    }
  }
  return raw.map(Number).filter((n) => Number.isFinite(n));
}
