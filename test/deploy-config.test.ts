import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  dashboardQueries,
  detectorSeriesNames,
  knownSeriesNames,
  loadDashboard,
  metricNamesIn,
  METRIC_KINDS,
} from './support/dashboard.ts';
import * as core from '@llmsec/core';
import { DEFAULT_RULE_IDS, defaultRules } from '@llmsec/detect';
import { requireBinary } from './support/binaries.ts';

/**
 * Static checks of the deployment configuration: promtool on the Prometheus config and rules
 * (including rule unit tests, and mutants of the rules those tests must catch), the compose
 * file and what it mounts, the collector pipelines, Grafana provisioning, the dashboard's
 * metric names, and one runbook per detection rule and per alert rule.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const at = (...parts: string[]): string => join(ROOT, ...parts);
const readYaml = (path: string): unknown => parse(readFileSync(path, 'utf8'));

const RUNBOOK_BASE = 'https://github.com/llmsec/llmsec/blob/main/docs/runbooks/';
const RULES_FILE = at('deploy/prometheus/rules/llmsec.rules.yml');
const RULES_TEST_FILE = at('deploy/prometheus/tests/llmsec.rules.test.yml');
const ALERT_SEVERITIES = ['warning', 'alert', 'critical'];
/** The detector's built-in rules: each has a runbook here. */
const DETECTION_RULES: string[] = [...DEFAULT_RULE_IDS];

interface Run {
  code: number;
  output: string;
}

async function run(command: string, args: string[], cwd = ROOT): Promise<Run> {
  requireBinary(command); // "install promtool (Debian package prometheus)", not a bare exit code
  return await new Promise((resolvePromise) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolvePromise({ code, output: `${stdout}${stderr}` });
    });
  });
}

interface RuleGroupFile {
  groups: Array<{
    name: string;
    rules: Array<{
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>;
  }>;
}

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    name?: string;
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
  }>;
}

const rules = readYaml(RULES_FILE) as RuleGroupFile;
const alertRules = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));
const alertNames = [...new Set(alertRules.map((r) => r.alert as string))];

describe('Prometheus configuration and rules', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'llmsec-deploy-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('promtool check config passes and finds the rule file', async () => {
    const r = await run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('promtool check rules passes', async () => {
    const r = await run('promtool', ['check', 'rules', RULES_FILE]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${rules.groups.flatMap((g) => g.rules).length} rules found`);
  });

  it('promtool check rules fails on a broken rules file', async () => {
    const broken = join(tmp, 'broken.rules.yml');
    await writeFile(
      broken,
      'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(llmsec_requests_total[5m])\n',
    );
    const r = await run('promtool', ['check', 'rules', broken]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAILED|parse error/i);
  });

  it('promtool test rules passes', async () => {
    const r = await run('promtool', ['test', 'rules', RULES_TEST_FILE]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('has a firing and a non-firing unit test for every alert rule', () => {
    const tests = readYaml(RULES_TEST_FILE) as RuleTestFile;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} firing case`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} non-firing case`,
      ).toBe(true);
    }
  });

  // Mutation check: for every alert, a rules file where that alert never fires, and one where it
  // always fires, must each make the unit tests fail.
  it.each(alertNames)('the unit tests catch %s never firing and always firing', async (name) => {
    const tests = readYaml(RULES_TEST_FILE) as RuleTestFile;
    for (const [kind, expr] of [
      ['never', 'vector(1) > 2'],
      ['always', 'vector(1)'],
    ] as const) {
      const mutant = structuredClone(rules);
      for (const rule of mutant.groups.flatMap((g) => g.rules)) {
        if (rule.alert === name) {
          rule.expr = expr;
          delete rule.for;
        }
      }
      const rulesPath = join(tmp, `${name}-${kind}.rules.yml`);
      const testPath = join(tmp, `${name}-${kind}.test.yml`);
      await writeFile(rulesPath, stringify(mutant));
      await writeFile(testPath, stringify({ ...tests, rule_files: [rulesPath] }));
      const r = await run('promtool', ['test', 'rules', testPath]);
      expect(r.code, `${name} ${kind} firing should fail the tests:\n${r.output}`).not.toBe(0);
      expect(r.output).toContain(name);
    }
    // Two whole promtool runs of the unit-test file: 7 s each at load ~20 on 2 cores, so a 30 s
    // timeout timed out four of them in a loaded fresh-clone run (the config's is 300 s).
  });

  it('gives every alert a known severity, a summary, a description and a runbook that exists', () => {
    expect(alertNames.length).toBeGreaterThanOrEqual(8);
    for (const rule of alertRules) {
      const name = rule.alert as string;
      expect(ALERT_SEVERITIES, name).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, name).toBeTruthy();
      expect(rule.annotations?.description, name).toBeTruthy();
      expect(rule.annotations?.runbook_url, name).toBe(`${RUNBOOK_BASE}${name}.md`);
      expect(existsSync(at('docs/runbooks', `${name}.md`)), `docs/runbooks/${name}.md`).toBe(true);
    }
  });

  it('reads only llmsec metric names (and up) in rule expressions', () => {
    const known = new Set([...knownSeriesNames(), ...detectorSeriesNames()]);
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean));
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      for (const name of metricNamesIn(rule.expr)) {
        if (name === 'vector' || name === 'up' || recorded.has(name)) continue;
        expect(known, `${rule.alert ?? rule.record}: ${name}`).toContain(name);
      }
    }
  });
});

describe('docker-compose.yml', () => {
  interface Service {
    image?: string;
    build?: { context: string; dockerfile?: string };
    volumes?: string[];
    ports?: string[];
    environment?: Record<string, string>;
    command?: string[];
    depends_on?: string[];
  }
  const compose = readYaml(at('docker-compose.yml')) as {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
  const services = compose.services;

  it('defines the stack the issue lists', () => {
    for (const name of [
      'otel-collector',
      'jaeger',
      'prometheus',
      'alertmanager',
      'grafana',
      'redis',
      'chat-api',
      'simulator',
    ]) {
      expect(Object.keys(services)).toContain(name);
    }
  });

  it('pins every pulled image to a tag other than latest', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) continue; // built from this repository
      expect(svc.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(svc.image?.split(':').pop(), name).not.toBe('latest');
      expect(svc.image?.split(':').pop(), name).toMatch(/\d/);
    }
  });

  it('mounts only files and folders that exist in the repository', () => {
    const named = new Set(Object.keys(compose.volumes ?? {}));
    let binds = 0;
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const [source] = volume.split(':');
        if (source === undefined || named.has(source)) continue;
        expect(source.startsWith('./'), `${name}: ${volume} should be a repo-relative bind`).toBe(true);
        expect(existsSync(at(source)), `${name} mounts ${source}`).toBe(true);
        binds++;
      }
      if (svc.build) {
        expect(statSync(at(svc.build.context)).isDirectory()).toBe(true);
        expect(
          existsSync(at(svc.build.context, svc.build.dockerfile ?? 'Dockerfile')),
          `${name} Dockerfile`,
        ).toBe(true);
      }
    }
    expect(binds).toBeGreaterThanOrEqual(5);
  });

  it('mounts the configuration each service is told to read', () => {
    const target = (svc: Service, file: string): string | undefined =>
      svc.volumes?.map((v) => v.split(':')).find(([, t]) => t !== undefined && file.startsWith(t))?.[0];
    const prom = services.prometheus!;
    const promConfig = prom.command?.find((a) => a.startsWith('--config.file='))?.split('=')[1];
    expect(target(prom, promConfig!)).toBe('./deploy/prometheus');
    const am = services.alertmanager!;
    const amConfig = am.command?.find((a) => a.startsWith('--config.file='))?.split('=')[1];
    expect(target(am, amConfig!)).toBe('./deploy/alertmanager/alertmanager.yml');
    const otel = services['otel-collector']!;
    const otelConfig = otel.command?.find((a) => a.startsWith('--config='))?.split('=')[1];
    expect(target(otel, otelConfig!)).toBe('./deploy/otel-collector/config.yaml');
    const provider = readYaml(at('deploy/grafana/provisioning/dashboards/dashboards.yml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(target(services.grafana!, provider.providers[0]!.options.path)).toBe(
      './deploy/grafana/dashboards',
    );
    expect(target(services.grafana!, '/etc/grafana/provisioning')).toBe('./deploy/grafana/provisioning');
  });

  it('publishes ports on loopback only', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const port of svc.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('wires the chat API and simulator with the documented environment', () => {
    const api = services['chat-api']!;
    expect(api.command).toEqual(['node', 'examples/chat-api/main.ts']);
    expect(api.environment).toMatchObject({
      LLMSEC_REDIS_URL: 'redis://redis:6379',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
      LLMSEC_ALERTMANAGER_URL: 'http://alertmanager:9093',
      PORT: '8080',
      LLMSEC_METRICS_PORT: '9464',
      LLMSEC_METRICS_HOST: '0.0.0.0',
    });
    expect(services.simulator!.command).toEqual([
      'node',
      'examples/simulator/main.ts',
      '--target',
      'http://chat-api:8080',
      '--duration',
      '0',
    ]);
    const readme = readFileSync(at('deploy/README.md'), 'utf8');
    for (const key of Object.keys(api.environment ?? {}))
      expect(readme, `deploy/README.md documents ${key}`).toContain(key);
  });

  it('points Prometheus at services that exist, on the ports they serve', () => {
    const prom = readYaml(at('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    // Static targets, and DNS service discovery (every replica of a scaled service) as name:port.
    const targets = prom.scrape_configs.flatMap((s) => [
      ...(s.static_configs ?? []).flatMap((c) => c.targets),
      ...(s.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => `${n}:${d.port}`)),
    ]);
    expect(targets).toContain('chat-api:9464');
    expect(targets).toContain('otel-collector:8889');
    for (const t of targets) {
      const host = t.split(':')[0]!;
      if (host !== 'localhost') expect(Object.keys(services), t).toContain(host);
    }
    expect(prom.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
    const chatJob = prom.scrape_configs.find((s) => s.job_name === 'chat-api');
    expect(chatJob, 'LlmsecMetricsTargetDown watches job="chat-api"').toBeDefined();
  });
});

describe('OpenTelemetry Collector configuration', () => {
  interface Collector {
    receivers: Record<string, unknown>;
    processors: Record<string, unknown>;
    exporters: Record<string, { endpoint?: string; tls?: { insecure?: boolean } }>;
    extensions?: Record<string, unknown>;
    service: {
      extensions?: string[];
      pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
    };
  }
  const otel = readYaml(at('deploy/otel-collector/config.yaml')) as Collector;

  it('only references components it defines', () => {
    for (const [name, p] of Object.entries(otel.service.pipelines)) {
      for (const r of p.receivers) expect(Object.keys(otel.receivers), `${name} receiver ${r}`).toContain(r);
      for (const x of p.processors ?? [])
        expect(Object.keys(otel.processors), `${name} processor ${x}`).toContain(x);
      for (const e of p.exporters) expect(Object.keys(otel.exporters), `${name} exporter ${e}`).toContain(e);
    }
    for (const e of otel.service.extensions ?? []) expect(Object.keys(otel.extensions ?? {})).toContain(e);
  });

  it('receives OTLP and sends traces to Jaeger, logs to Loki, metrics to the Prometheus exporter', () => {
    expect(otel.receivers).toHaveProperty('otlp.protocols.grpc');
    expect(otel.receivers).toHaveProperty('otlp.protocols.http');
    const { traces, logs, metrics } = otel.service.pipelines;
    const tracesOut = traces!.exporters.map((e) => otel.exporters[e]!);
    expect(tracesOut.some((e) => e.endpoint === 'jaeger:4317')).toBe(true);
    const logsOut = logs!.exporters.map((e) => otel.exporters[e]!);
    expect(logsOut.some((e) => e.endpoint === 'http://loki:3100/otlp')).toBe(true);
    expect(logs!.exporters).not.toContain('debug');
    expect(metrics!.exporters).toContain('prometheus');
    expect(otel.exporters.prometheus!.endpoint).toBe('0.0.0.0:8889');
  });
});

describe('Grafana provisioning and dashboard', () => {
  const datasources = readYaml(at('deploy/grafana/provisioning/datasources/datasources.yml')) as {
    datasources: Array<{ uid: string; type: string; url: string; jsonData?: Record<string, unknown> }>;
  };
  const dashboard = loadDashboard() as ReturnType<typeof loadDashboard> & {
    uid: string;
    schemaVersion: number;
    templating: { list: Array<{ name: string }> };
  };

  it('provisions Prometheus and Jaeger with the uids the dashboard uses', () => {
    const byUid = new Map(datasources.datasources.map((d) => [d.uid, d]));
    expect(byUid.get('prometheus')).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(byUid.get('jaeger')).toMatchObject({ type: 'jaeger', url: 'http://jaeger:16686' });
    expect(byUid.get('prometheus')?.jsonData?.exemplarTraceIdDestinations).toEqual([
      { name: 'trace_id', datasourceUid: 'jaeger' },
    ]);
    const used = new Set<string>();
    const visit = (panels: Array<Record<string, unknown>> | undefined): void => {
      for (const p of panels ?? []) {
        const ds = p.datasource as { uid?: string } | undefined;
        if (ds?.uid) used.add(ds.uid);
        for (const t of (p.targets as Array<{ datasource?: { uid?: string } }> | undefined) ?? []) {
          if (t.datasource?.uid) used.add(t.datasource.uid);
        }
        visit(p.panels as Array<Record<string, unknown>> | undefined);
      }
    };
    visit(dashboard.panels as unknown as Array<Record<string, unknown>>);
    for (const uid of used) expect(byUid.has(uid), `datasource ${uid}`).toBe(true);
  });

  it('is a dashboard Grafana can load: uid, schema version, unique panel ids, grid positions', () => {
    expect(dashboard.uid).toBe('llmsec-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = dashboard.panels as unknown as Array<{
      id: number;
      type: string;
      gridPos: { w: number; h: number; x: number };
    }>;
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, `panel ${p.id}`).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
    }
  });

  it('queries only metric names llmsec produces', () => {
    const known = knownSeriesNames();
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(known, `${q.panel}: ${name}`).toContain(name);
        used.add(name);
      }
    }
    // Every llmsec instrument appears on the dashboard.
    for (const instrument of Object.keys(METRIC_KINDS)) {
      const base = instrument.replace(/\./g, '_');
      expect(
        [...used].some((n) => n.startsWith(base)),
        instrument,
      ).toBe(true);
    }
  });

  it('knows the kind of every metric core declares', () => {
    const declared = Object.entries(core)
      .filter(([key, value]) => key.startsWith('METRIC_') && typeof value === 'string')
      .map(([, value]) => value as string);
    expect(declared.sort()).toEqual(Object.keys(METRIC_KINDS).sort());
  });

  it('links panels to Jaeger and Alertmanager', () => {
    const text = JSON.stringify(dashboard);
    expect(text).toContain('${jaeger_url}/search?service=${service}');
    expect(text).toContain('${alertmanager_url}/#/alerts');
    const vars = dashboard.templating.list.map((v) => v.name);
    expect(vars).toEqual(expect.arrayContaining(['model', 'service', 'jaeger_url', 'alertmanager_url']));
  });
});

describe('runbooks', () => {
  const index = (): string => readFileSync(at('docs/runbooks/README.md'), 'utf8');

  it.each([...DETECTION_RULES, ...alertNames])('%s has a runbook listed in the index', (name) => {
    const path = at('docs/runbooks', `${name}.md`);
    expect(existsSync(path), path).toBe(true);
    const text = readFileSync(path, 'utf8');
    for (const heading of ['## What it means', '## How to investigate', '## What to do']) {
      expect(text, `${name}: ${heading}`).toContain(heading);
    }
    expect(index()).toContain(`(${name}.md)`);
  });

  it('is where the built-in detection rules point', () => {
    const builtIn = defaultRules();
    expect(builtIn.map((r) => r.id).sort()).toEqual([...DETECTION_RULES].sort());
    for (const rule of builtIn) {
      expect(rule.runbook_url, rule.id).toBe(`${RUNBOOK_BASE}${rule.id}.md`);
      const text = readFileSync(at('docs/runbooks', `${rule.id}.md`), 'utf8');
      expect(text, `${rule.id} runbook severity`).toMatch(
        new RegExp(`\\| Severity +\\| \`${rule.severity}\` +\\|`),
      );
    }
  });

  it('resolves every relative link between runbooks', () => {
    const dir = at('docs/runbooks');
    for (const name of [...DETECTION_RULES, ...alertNames, 'README']) {
      const text = readFileSync(join(dir, `${name}.md`), 'utf8');
      for (const m of text.matchAll(/\]\((?!https?:|#)([^)#\s]+)/g)) {
        expect(existsSync(resolve(dir, m[1]!)), `${name}.md links ${m[1]}`).toBe(true);
      }
    }
  });
});
