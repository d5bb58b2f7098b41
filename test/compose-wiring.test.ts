import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  checkWiring,
  commandOf,
  mountedFiles,
  repositoryReader,
  type ComposeFile,
  type FileReader,
} from './support/compose-wiring.ts';
import { OTELCOL_CONTRIB_MODULES, OTELCOL_CONTRIB_VERSION } from './support/otelcol-contrib-components.ts';

/**
 * The compose stack is right by construction: nobody can run Docker here, so the wiring is
 * derived from docker-compose.yml and the files it mounts and checked as a whole (see
 * support/compose-wiring.ts), and each kind of mistake that has happened or could (a service on
 * loopback inside its container, a URL to a port nobody listens on, a published port to a
 * loopback listener) is planted in a copy of the stack to show that the check catches it.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COLLECTOR_CONFIG = '/etc/otelcol-contrib/config.yaml';
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as ComposeFile;
const reader = repositoryReader(ROOT, compose);

/** The repository's files, with some mounted files replaced (service + container path → text). */
function withFiles(base: FileReader, overrides: Record<string, string>): FileReader {
  return (service, path) => overrides[`${service}:${path}`] ?? base(service, path);
}

function variant(mutate: (c: ComposeFile) => void): ComposeFile {
  const copy = structuredClone(compose);
  mutate(copy);
  return copy;
}

function collectorVariant(mutate: (config: Record<string, any>) => void): Record<string, string> {
  const config = parse(reader('otel-collector', COLLECTOR_CONFIG)!) as Record<string, any>;
  mutate(config);
  return { [`otel-collector:${COLLECTOR_CONFIG}`]: stringify(config) };
}

describe('docker-compose.yml wiring', () => {
  it('every URL a service is given reaches a listener, every published port maps to one on 0.0.0.0', () => {
    expect(checkWiring(compose, reader)).toEqual([]);
  });

  it('every mounted file exists and parses', () => {
    const files = mountedFiles(ROOT, compose);
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files.filter((f) => f.error !== undefined)).toEqual([]);
  });

  const detectorConfig = (otlp: string): string =>
    stringify({
      otlp: { grpc: `${otlp}:4317`, http: `${otlp}:4318` },
      sinks: { alertmanager: ['http://alertmanager:9093'] },
    });
  const withDetector = (c: ComposeFile): void => {
    c.services['detector-test'] = {
      build: { context: '.', dockerfile: 'deploy/Dockerfile' },
      command: ['node', 'packages/cli/src/bin.ts', 'detector', '--config', '/etc/llmsec/detector.yaml'],
      volumes: ['./deploy/otel-collector/config.yaml:/etc/llmsec/detector.yaml:ro'],
    };
  };
  const collectorToDetector = collectorVariant((config) => {
    config.exporters['otlp/detector-test'] = { endpoint: 'detector-test:4317', tls: { insecure: true } };
    config.service.pipelines.logs.exporters.push('otlp/detector-test');
  });

  // Each planted mistake, and the problem it must produce.
  const mistakes: Array<[string, ComposeFile, FileReader, RegExp]> = [
    [
      'the chat API on loopback inside its container (no HOST)',
      variant((c) => delete c.services['chat-api']!.environment!.HOST),
      reader,
      /simulator --target -> chat-api:8080: chat-api listens on 127\.0\.0\.1:8080/,
    ],
    [
      'the chat API published port to a loopback listener',
      variant((c) => delete c.services['chat-api']!.environment!.HOST),
      reader,
      /chat-api: published port 127\.0\.0\.1:8080:8080 maps to chat API on 127\.0\.0\.1:8080/,
    ],
    [
      'the metrics endpoint on loopback',
      variant((c) => delete c.services['chat-api']!.environment!.LLMSEC_METRICS_HOST),
      reader,
      /prometheus scrape job chat-api -> chat-api:9464: chat-api listens on 127\.0\.0\.1:9464/,
    ],
    [
      "the collector's OTLP HTTP receiver on its default (localhost)",
      compose,
      withFiles(
        reader,
        collectorVariant((config) => delete config.receivers.otlp.protocols.http.endpoint),
      ),
      /chat-api OTEL_EXPORTER_OTLP_ENDPOINT -> otel-collector:4318: otel-collector listens on localhost:4318/,
    ],
    [
      'Jaeger without JAEGER_LISTEN_HOST',
      variant((c) => delete c.services.jaeger!.environment!.JAEGER_LISTEN_HOST),
      reader,
      /otel-collector exporter otlp\/jaeger -> jaeger:4317: jaeger listens on localhost:4317/,
    ],
    [
      'Loki on loopback',
      compose,
      withFiles(reader, {
        'loki:/etc/loki/config.yaml': reader('loki', '/etc/loki/config.yaml')!.replace(
          'http_listen_address: 0.0.0.0',
          'http_listen_address: 127.0.0.1',
        ),
      }),
      /otel-collector exporter otlphttp\/loki -> loki:3100: loki listens on 127\.0\.0\.1:3100/,
    ],
    [
      'a URL to a port nobody listens on',
      variant(
        (c) => (c.services['chat-api']!.environment!.LLMSEC_ALERTMANAGER_URL = 'http://alertmanager:9094'),
      ),
      reader,
      /chat-api LLMSEC_ALERTMANAGER_URL -> alertmanager:9094: alertmanager listens on 9093, not 9094/,
    ],
    [
      'a URL to a service that does not exist',
      variant((c) => (c.services['chat-api']!.environment!.LLMSEC_REDIS_URL = 'redis://cache:6379')),
      reader,
      /chat-api LLMSEC_REDIS_URL -> cache:6379: no service named cache/,
    ],
    [
      'a published port where nothing listens',
      variant((c) => c.services['chat-api']!.ports!.push('127.0.0.1:8081:8081')),
      reader,
      /chat-api: published port 127\.0\.0\.1:8081:8081 maps to container port 8081, where nothing listens/,
    ],
    [
      'a detector service on its loopback default, fed by the collector',
      variant(withDetector),
      withFiles(reader, {
        ...collectorToDetector,
        'detector-test:/etc/llmsec/detector.yaml': detectorConfig('127.0.0.1'),
      }),
      /otel-collector exporter otlp\/detector-test -> detector-test:4317: detector-test listens on 127\.0\.0\.1:4317/,
    ],
    [
      'a load-balanced detector backend on a port it does not listen on',
      variant(withDetector),
      withFiles(reader, {
        ...collectorVariant((config) => {
          config.exporters['loadbalancing/detector-test'] = {
            protocol: { otlp: { tls: { insecure: true } } },
            resolver: { dns: { hostname: 'detector-test', port: 4319 } },
          };
          config.service.pipelines.logs.exporters.push('loadbalancing/detector-test');
        }),
        'detector-test:/etc/llmsec/detector.yaml': detectorConfig('0.0.0.0'),
      }),
      /exporter loadbalancing\/detector-test dns backend -> detector-test:4319: detector-test listens on 4317, 4318, not 4319/,
    ],
    [
      'a service nobody described',
      variant((c) => (c.services.mystery = { image: 'example/mystery:1.0' })),
      reader,
      /mystery: no wiring model for image example\/mystery:1\.0/,
    ],
  ];

  it.each(mistakes)('catches %s', (_label, stack, files, expected) => {
    const problems = checkWiring(stack, files);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('accepts a detector service that listens on 0.0.0.0 (the model for the detector is live)', () => {
    const stack = variant(withDetector);
    const files = withFiles(reader, {
      ...collectorToDetector,
      'detector-test:/etc/llmsec/detector.yaml': detectorConfig('0.0.0.0'),
    });
    expect(checkWiring(stack, files)).toEqual([]);
  });
});

describe('images built from this repository', () => {
  // They run the TypeScript sources (no dist/ in the build context): every @llmsec/* import must
  // resolve through the "@llmsec/source" export condition, or the service dies at its first import.
  it.each(Object.entries(compose.services).filter(([, svc]) => svc.build !== undefined))(
    '%s resolves @llmsec/* to the sources',
    (_name, svc) => {
      const build = svc.build as { context: string; dockerfile?: string };
      const dockerfile = readFileSync(join(ROOT, build.context, build.dockerfile ?? 'Dockerfile'), 'utf8');
      const fromEnv = /^ENV NODE_OPTIONS=.*--conditions=@llmsec\/source/m.test(dockerfile);
      const fromCommand = commandOf(svc).includes('--conditions=@llmsec/source');
      expect(fromEnv || fromCommand).toBe(true);
    },
  );
});

describe(`OpenTelemetry Collector configuration against otelcol-contrib ${OTELCOL_CONTRIB_VERSION}`, () => {
  const config = parse(reader('otel-collector', COLLECTOR_CONFIG)!) as {
    receivers: Record<string, unknown>;
    processors: Record<string, unknown>;
    exporters: Record<string, unknown>;
    connectors?: Record<string, unknown>;
    extensions?: Record<string, unknown>;
    service: {
      extensions?: string[];
      pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
    };
  };
  const kinds = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'] as const;
  const suffix: Record<(typeof kinds)[number], string> = {
    receivers: 'receiver',
    processors: 'processor',
    exporters: 'exporter',
    connectors: 'connector',
    extensions: 'extension',
  };
  /** A config type (`health_check`, `otlphttp/loki`) is in the version when a module of its kind has its name. */
  const exists = (kind: (typeof kinds)[number], id: string): boolean => {
    const type = id.split('/')[0]!.replace(/_/g, '');
    const modules: readonly string[] = OTELCOL_CONTRIB_MODULES[kind];
    return modules.includes(type + suffix[kind]) || modules.includes(type);
  };

  it('runs the image the component list is for', () => {
    expect(compose.services['otel-collector']!.image).toBe(
      `otel/opentelemetry-collector-contrib:${OTELCOL_CONTRIB_VERSION}`,
    );
    expect(commandOf(compose.services['otel-collector']!)).toContain(`--config=${COLLECTOR_CONFIG}`);
  });

  it('names only components that exist in that version', () => {
    let checked = 0;
    for (const kind of kinds) {
      for (const id of Object.keys(config[kind] ?? {})) {
        expect(exists(kind, id), `${kind} ${id} is not in otelcol-contrib ${OTELCOL_CONTRIB_VERSION}`).toBe(
          true,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    expect(exists('exporters', 'loki_push'), 'the check rejects a made-up component').toBe(false);
    expect(exists('processors', 'memory_limiter')).toBe(true);
  });

  it('pipelines reference only defined components, connectors on both ends', () => {
    const defined = (kind: (typeof kinds)[number]): string[] => Object.keys(config[kind] ?? {});
    const connectors = defined('connectors');
    for (const [name, p] of Object.entries(config.service.pipelines)) {
      expect(['traces', 'metrics', 'logs']).toContain(name.split('/')[0]);
      for (const r of p.receivers)
        expect([...defined('receivers'), ...connectors], `${name} receiver ${r}`).toContain(r);
      for (const x of p.processors ?? [])
        expect(defined('processors'), `${name} processor ${x}`).toContain(x);
      for (const e of p.exporters)
        expect([...defined('exporters'), ...connectors], `${name} exporter ${e}`).toContain(e);
    }
    for (const e of config.service.extensions ?? []) expect(defined('extensions')).toContain(e);
  });

  it('sends llmsec log records to a log backend or the detector, not to debug only', () => {
    const logs = Object.entries(config.service.pipelines).filter(([name]) => name.split('/')[0] === 'logs');
    expect(logs.length).toBeGreaterThan(0);
    const exporters = logs.flatMap(([, p]) => p.exporters).filter((e) => e.split('/')[0] !== 'debug');
    expect(exporters.length, 'a logs pipeline exporter other than debug').toBeGreaterThan(0);
  });

  it('the README states the exact image tag the configuration was written for', () => {
    const image = compose.services['otel-collector']!.image!;
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(image);
    expect(readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8')).toContain(image);
  });
});

describe('Grafana access', () => {
  const grafana = compose.services.grafana!.environment ?? {};

  it('has no default admin password: compose refuses to start without one', () => {
    expect(String(grafana.GF_SECURITY_ADMIN_PASSWORD)).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
    expect(JSON.stringify(compose.services.grafana)).not.toMatch(/:-admin\}/);
  });

  it('keeps anonymous access off unless GRAFANA_ANONYMOUS turns it on', () => {
    expect(grafana.GF_AUTH_ANONYMOUS_ENABLED).toBe('${GRAFANA_ANONYMOUS:-false}');
  });
});
