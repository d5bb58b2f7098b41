import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configFromEnv } from '../../examples/chat-api/options.ts';
import { loadConfig } from '../../packages/detector/src/service/config.ts';

/**
 * The compose stack's wiring, derived from docker-compose.yml and the files it mounts, and
 * checked without Docker: every URL a service is given names a service and a port that service
 * listens on, on an address another container can reach; every published port maps to a
 * listener on all interfaces; every mounted file exists and parses.
 *
 * What each service listens on comes from its own configuration (the collector's config file,
 * the chat API's env parser, the detector's config loader, image flags and env), with the image's
 * documented defaults where the configuration is silent. A service this module has no model for
 * is itself a problem: adding one means saying how it listens.
 */

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface Listener {
  host: string;
  port: number;
  what: string;
}

/** A URL (or host:port) a service is given, and where it came from. */
export interface Target {
  from: string;
  host: string;
  port: number;
  /** Meant for the user's browser (external URLs, link templates): must be a published port. */
  browser: boolean;
}

/** Reads a repository file a service mounts, as the container would see it. */
export type FileReader = (service: string, containerPath: string) => string | undefined;

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '[::]', '']);
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'redis:': 6379, 'rediss:': 6379 };

export function commandOf(svc: ComposeService): string[] {
  if (svc.command === undefined) return [];
  return Array.isArray(svc.command) ? svc.command : svc.command.split(/\s+/);
}

function env(svc: ComposeService): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.environment ?? {})) if (v !== null) out[k] = String(v);
  return out;
}

function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
    if (a === name) return args[i + 1];
  }
  return undefined;
}

/** `host:port`, `[v6]:port` or `:port`. */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d{1,5})$/.exec(s.trim());
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

function urlTarget(raw: string, from: string, browser = false): Target | undefined {
  let url: URL;
  try {
    url = new URL(raw.replace(/\{[^}]*\}/g, 'x'));
  } catch {
    return undefined;
  }
  const port = url.port !== '' ? Number(url.port) : DEFAULT_PORTS[url.protocol];
  if (port === undefined || url.hostname === '') return undefined;
  return { from, host: url.hostname, port, browser };
}

/** Maps a container path to the repository file bound there (longest mount prefix wins). */
export function hostPathOf(root: string, svc: ComposeService, containerPath: string): string | undefined {
  let best: { source: string; target: string } | undefined;
  for (const volume of svc.volumes ?? []) {
    const [source, target] = volume.split(':');
    if (source === undefined || target === undefined || !source.startsWith('./')) continue;
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      if (best === undefined || target.length > best.target.length) best = { source, target };
    }
  }
  return best ? join(root, best.source, containerPath.slice(best.target.length)) : undefined;
}

interface ServiceModel {
  listeners: Listener[];
  targets: Target[];
  /** Addresses the model could not read: reported, never skipped silently. */
  problems?: string[];
}

type Model = (name: string, svc: ComposeService, read: FileReader) => ServiceModel;

const IMAGE_MODELS: Record<string, Model> = {
  'otel/opentelemetry-collector-contrib': (name, svc, read) => {
    const path = flag(commandOf(svc), '--config');
    const text = path === undefined ? undefined : read(name, path);
    if (text === undefined) throw new Error(`${name}: --config ${path} is not a mounted file`);
    return collectorModel(parse(text) as CollectorConfig, name);
  },
  'jaegertracing/jaeger': (_name, svc) => {
    // Jaeger v2's all-in-one binds its endpoints to localhost unless JAEGER_LISTEN_HOST is set.
    const host = env(svc).JAEGER_LISTEN_HOST ?? 'localhost';
    return {
      listeners: [
        { host, port: 4317, what: 'OTLP gRPC' },
        { host, port: 4318, what: 'OTLP HTTP' },
        { host, port: 16686, what: 'UI and query API' },
      ],
      targets: [],
    };
  },
  'prom/prometheus': (name, svc, read) => {
    const args = commandOf(svc);
    const listen = splitHostPort(flag(args, '--web.listen-address') ?? '0.0.0.0:9090')!;
    const targets: Target[] = [];
    const external = flag(args, '--web.external-url');
    if (external !== undefined) push(targets, urlTarget(external, `${name} --web.external-url`, true));
    const path = flag(args, '--config.file') ?? '/etc/prometheus/prometheus.yml';
    const text = read(name, path);
    if (text === undefined) throw new Error(`${name}: --config.file ${path} is not a mounted file`);
    const config = parse(text) as PrometheusConfig;
    for (const job of config.scrape_configs ?? []) {
      for (const sc of job.static_configs ?? []) {
        for (const t of sc.targets) push(targets, hostPortTarget(t, `${name} scrape job ${job.job_name}`));
      }
    }
    for (const am of config.alerting?.alertmanagers ?? []) {
      for (const sc of am.static_configs ?? []) {
        for (const t of sc.targets) push(targets, hostPortTarget(t, `${name} alertmanagers`));
      }
    }
    return { listeners: [{ ...listen, what: 'web' }], targets };
  },
  'prom/alertmanager': (name, svc) => {
    const args = commandOf(svc);
    const listen = splitHostPort(flag(args, '--web.listen-address') ?? ':9093')!;
    const targets: Target[] = [];
    const external = flag(args, '--web.external-url');
    if (external !== undefined) push(targets, urlTarget(external, `${name} --web.external-url`, true));
    return { listeners: [{ ...listen, what: 'web' }], targets };
  },
  'grafana/grafana': (name, svc, read) => {
    const e = env(svc);
    const listeners = [
      { host: e.GF_SERVER_HTTP_ADDR ?? '0.0.0.0', port: Number(e.GF_SERVER_HTTP_PORT ?? 3000), what: 'web' },
    ];
    const targets: Target[] = [];
    const dir = '/etc/grafana/provisioning/datasources';
    for (const file of listMounted(name, dir, read)) {
      const config = parse(read(name, `${dir}/${file}`)!) as {
        datasources?: Array<{ name: string; url?: string }>;
      };
      for (const ds of config.datasources ?? []) {
        if (ds.url !== undefined) push(targets, urlTarget(ds.url, `${name} data source ${ds.name}`));
      }
    }
    return { listeners, targets };
  },
  redis: (_name, svc) => {
    // The official image runs redis-server without a config file: all interfaces, port 6379.
    const args = commandOf(svc);
    const port = Number(flag(args, '--port') ?? 6379);
    const host = flag(args, '--bind')?.split(/\s+/)[0] ?? '0.0.0.0';
    return { listeners: [{ host, port, what: 'redis' }], targets: [] };
  },
  'grafana/loki': (name, svc, read) => {
    const path = flag(commandOf(svc), '-config.file') ?? '/etc/loki/local-config.yaml';
    const text = read(name, path);
    if (text === undefined) throw new Error(`${name}: -config.file ${path} is not a mounted file`);
    const server = (parse(text) as { server?: Record<string, unknown> }).server ?? {};
    return {
      listeners: [
        {
          host: String(server.http_listen_address ?? '0.0.0.0'),
          port: Number(server.http_listen_port ?? 3100),
          what: 'HTTP',
        },
        {
          host: String(server.grpc_listen_address ?? '0.0.0.0'),
          port: Number(server.grpc_listen_port ?? 9095),
          what: 'gRPC',
        },
      ],
      targets: [],
    };
  },
};

/** Services built from this repository, by the program they run. */
const PROGRAM_MODELS: Record<string, Model> = {
  'examples/chat-api/main.ts': (name, svc) => {
    const e = env(svc);
    const options = configFromEnv(e);
    // configFromEnv applies the defaults; the type leaves them optional for callers (loopback).
    const listeners: Listener[] = [
      { host: options.host ?? '127.0.0.1', port: options.port ?? 8080, what: 'chat API' },
    ];
    if (options.metrics)
      listeners.push({
        host: options.metrics.host ?? '127.0.0.1',
        port: options.metrics.port,
        what: 'metrics',
      });
    const targets: Target[] = [];
    for (const [key, value] of Object.entries(e)) {
      for (const part of value.split(',')) {
        push(targets, urlTarget(part.trim(), `${name} ${key}`, key === 'LLMSEC_TRACE_URL_TEMPLATE'));
      }
    }
    return { listeners, targets };
  },
  'examples/simulator/main.ts': (name, svc) => {
    const args = commandOf(svc);
    const target = flag(args, '--target');
    const parsed = target === undefined ? undefined : urlTarget(target, `${name} --target`);
    const problems =
      target !== undefined && parsed === undefined ? [`${name}: cannot read --target ${target}`] : [];
    return { listeners: [], targets: parsed === undefined ? [] : [parsed], problems };
  },
  detector: (name, svc, read) => {
    const args = commandOf(svc);
    const path = flag(args, '--config');
    const text = path === undefined ? undefined : read(name, path);
    if (path !== undefined && text === undefined)
      throw new Error(`${name}: --config ${path} is not a mounted file`);
    const config = loadDetectorConfig(text, args);
    const grpc = splitHostPort(config.otlp.grpc)!;
    const http = splitHostPort(config.otlp.http)!;
    const targets: Target[] = [];
    const urls: Array<[string, string | undefined]> = [
      ...config.sinks.alertmanager.map((u): [string, string] => ['sinks.alertmanager', u]),
      ...config.sinks.webhook.map((u): [string, string] => ['sinks.webhook', u]),
      ['sinks.otlp_alerts', config.sinks.otlp_alerts],
      ['state', config.state === 'memory' ? undefined : config.state],
      ['enforcement.redis', config.enforcement?.redis],
    ];
    for (const [key, url] of urls) if (url !== undefined) push(targets, urlTarget(url, `${name} ${key}`));
    if (config.sinks.trace_url_template !== undefined) {
      push(targets, urlTarget(config.sinks.trace_url_template, `${name} sinks.trace_url_template`, true));
    }
    return {
      listeners: [
        { ...grpc, what: 'OTLP gRPC' },
        { ...http, what: 'OTLP HTTP, health, metrics' },
      ],
      targets,
    };
  },
};

/** The detector's own loader (defaults, validation), on the mounted file's text and the command-line flags. */
function loadDetectorConfig(text: string | undefined, args: string[]): ReturnType<typeof loadConfig> {
  const all = (name: string): string[] | undefined => {
    const values = args.flatMap((a, i) =>
      a === name ? [args[i + 1]!] : a.startsWith(`${name}=`) ? [a.slice(name.length + 1)] : [],
    );
    return values.length > 0 ? values : undefined;
  };
  const flags = {
    otlpGrpc: flag(args, '--otlp-grpc'),
    otlpHttp: flag(args, '--otlp-http'),
    state: flag(args, '--state'),
    otlpAlerts: flag(args, '--otlp-alerts'),
    alertmanager: all('--alertmanager'),
    webhook: all('--webhook'),
  };
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  if (text === undefined) return loadConfig(undefined, defined);
  // The loader reads a file: give it the mounted text (which may be a test's variant).
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-wiring-'));
  try {
    const file = join(dir, 'detector.yaml');
    writeFileSync(file, text);
    return loadConfig(file, defined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function programOf(svc: ComposeService): string | undefined {
  const args = commandOf(svc);
  const script = args.find((a) => a.endsWith('.ts') || a.endsWith('.js') || a.endsWith('.mjs'));
  if (args.includes('detector') || args.some((a) => a.includes('detector/'))) return 'detector';
  return script;
}

function push(list: Target[], t: Target | undefined): void {
  if (t !== undefined) list.push(t);
}

function hostPortTarget(s: string, from: string): Target | undefined {
  const hp = splitHostPort(s);
  return hp ? { from, ...hp, browser: false } : undefined;
}

interface CollectorConfig {
  receivers?: Record<string, { protocols?: Record<string, { endpoint?: string } | null> } | null>;
  exporters?: Record<string, CollectorExporter | null>;
  extensions?: Record<string, { endpoint?: string } | null>;
  service?: {
    telemetry?: {
      metrics?: {
        readers?: Array<{ pull?: { exporter?: { prometheus?: { host?: string; port?: number } } } }>;
      };
    };
  };
}

interface CollectorExporter {
  endpoint?: string;
  /** loadbalancing: the backends, by static list or DNS name, each spoken to as OTLP gRPC. */
  resolver?: {
    static?: { hostnames?: string[] };
    dns?: { hostname?: string; port?: number | string };
  };
}

interface PrometheusConfig {
  scrape_configs?: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }>;
  alerting?: { alertmanagers?: Array<{ static_configs?: Array<{ targets: string[] }> }> };
}

/** Collector defaults (0.104+): OTLP receivers and the health check bind localhost unless told otherwise. */
const OTLP_DEFAULTS: Record<string, string> = { grpc: 'localhost:4317', http: 'localhost:4318' };

function collectorModel(config: CollectorConfig, name: string): ServiceModel {
  const listeners: Listener[] = [];
  const targets: Target[] = [];
  const problems: string[] = [];
  for (const [id, receiver] of Object.entries(config.receivers ?? {})) {
    if (id.split('/')[0] !== 'otlp') continue;
    for (const [protocol, settings] of Object.entries(receiver?.protocols ?? {})) {
      const hp = splitHostPort(settings?.endpoint ?? OTLP_DEFAULTS[protocol] ?? '');
      if (hp) listeners.push({ ...hp, what: `receiver ${id} ${protocol}` });
    }
  }
  for (const [id, exporter] of Object.entries(config.exporters ?? {})) {
    const type = id.split('/')[0]!;
    if (type === 'loadbalancing') {
      // Backends without a port get the OTLP gRPC default, 4317.
      for (const h of exporter?.resolver?.static?.hostnames ?? []) {
        push(targets, hostPortTarget(h.includes(':') ? h : `${h}:4317`, `${name} exporter ${id} backend`));
      }
      const dns = exporter?.resolver?.dns;
      if (dns?.hostname !== undefined) {
        push(
          targets,
          hostPortTarget(`${dns.hostname}:${dns.port ?? 4317}`, `${name} exporter ${id} dns backend`),
        );
      }
      continue;
    }
    const endpoint = exporter?.endpoint;
    if (endpoint === undefined) continue;
    if (type === 'prometheus') {
      const hp = splitHostPort(endpoint);
      if (hp) listeners.push({ ...hp, what: `exporter ${id}` });
    } else {
      // gRPC (otlp): host:port, a gRPC name such as dns:///host:port, or a URL; others: a URL.
      const from = `${name} exporter ${id}`;
      const grpcName = endpoint.replace(/^dns:(\/\/[^/]*)?\//, '');
      const target =
        type === 'otlp'
          ? (hostPortTarget(grpcName, from) ?? urlTarget(endpoint, from))
          : urlTarget(endpoint, from);
      if (target === undefined) problems.push(`${from}: cannot read the address in endpoint ${endpoint}`);
      push(targets, target);
    }
  }
  const health = config.extensions?.health_check;
  if (health !== undefined) {
    const hp = splitHostPort(health?.endpoint ?? 'localhost:13133');
    if (hp) listeners.push({ ...hp, what: 'health_check' });
  }
  for (const reader of config.service?.telemetry?.metrics?.readers ?? []) {
    const prom = reader.pull?.exporter?.prometheus;
    if (prom?.port !== undefined)
      listeners.push({ host: prom.host ?? 'localhost', port: prom.port, what: 'own metrics' });
  }
  return { listeners, targets, problems };
}

function listMounted(service: string, dir: string, read: FileReader): string[] {
  const listing = read(service, `${dir}/`);
  return listing === undefined ? [] : listing.split('\n').filter((f) => f !== '');
}

function imageRepository(image: string | undefined): string | undefined {
  if (image === undefined) return undefined;
  return image.replace(/:[^/:]+$/, '');
}

/** Every problem found, as a sentence naming the service, the URL or port and what is wrong. */
export function checkWiring(compose: ComposeFile, read: FileReader): string[] {
  const problems: string[] = [];
  const models = new Map<string, ServiceModel>();
  for (const [name, svc] of Object.entries(compose.services)) {
    const model =
      svc.build !== undefined
        ? PROGRAM_MODELS[programOf(svc) ?? '']
        : IMAGE_MODELS[imageRepository(svc.image) ?? ''];
    if (model === undefined) {
      problems.push(
        `${name}: no wiring model for ${svc.build !== undefined ? `program ${programOf(svc)}` : `image ${svc.image}`}`,
      );
      continue;
    }
    try {
      const built = model(name, svc, read);
      models.set(name, built);
      problems.push(...(built.problems ?? []));
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  const published = new Map<number, string>();
  for (const [name, svc] of Object.entries(compose.services)) {
    const model = models.get(name);
    for (const port of svc.ports ?? []) {
      const parts = String(port).split(':');
      const containerPort = Number(parts.pop()!.split('/')[0]);
      const hostPort = Number(parts.pop());
      published.set(hostPort, name);
      const listener = model?.listeners.find((l) => l.port === containerPort);
      if (model === undefined) continue;
      if (listener === undefined)
        problems.push(
          `${name}: published port ${port} maps to container port ${containerPort}, where nothing listens`,
        );
      else if (!ALL_INTERFACES.has(listener.host))
        problems.push(
          `${name}: published port ${port} maps to ${listener.what} on ${listener.host}:${containerPort}, unreachable from outside the container (listen on 0.0.0.0)`,
        );
    }
  }
  for (const [name, model] of models) {
    for (const t of model.targets) {
      const where = `${t.from} -> ${t.host}:${t.port}`;
      if (t.browser) {
        if (!LOOPBACK.has(t.host) || !published.has(t.port))
          problems.push(`${where}: a browser URL must name a published localhost port`);
        continue;
      }
      const target = LOOPBACK.has(t.host) ? name : t.host;
      const peer = models.get(target);
      if (!compose.services[target]) {
        problems.push(`${where}: no service named ${target}`);
        continue;
      }
      if (peer === undefined) continue; // already reported: no model
      const listener = peer.listeners.find((l) => l.port === t.port);
      if (listener === undefined) {
        problems.push(
          `${where}: ${target} listens on ${peer.listeners.map((l) => l.port).join(', ') || 'nothing'}, not ${t.port}`,
        );
      } else if (target !== name && !ALL_INTERFACES.has(listener.host)) {
        problems.push(
          `${where}: ${target} listens on ${listener.host}:${t.port} (${listener.what}), unreachable from ${name} (listen on 0.0.0.0)`,
        );
      }
    }
  }
  return problems;
}

/** The FileReader over the repository: a mounted file's text, or a mounted folder's listing (path ending in `/`). */
export function repositoryReader(root: string, compose: ComposeFile): FileReader {
  return (service, containerPath) => {
    const svc = compose.services[service];
    if (svc === undefined) return undefined;
    const dirListing = containerPath.endsWith('/');
    const host = hostPathOf(root, svc, dirListing ? containerPath.slice(0, -1) : containerPath);
    if (host === undefined || !existsSync(host)) return undefined;
    if (dirListing) return statSync(host).isDirectory() ? readdirSync(host).join('\n') : undefined;
    return statSync(host).isFile() ? readFileSync(host, 'utf8') : undefined;
  };
}

/** Every file under the repository paths compose mounts, with a parse error if it does not parse. */
export function mountedFiles(root: string, compose: ComposeFile): Array<{ file: string; error?: string }> {
  const out: Array<{ file: string; error?: string }> = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
      return;
    }
    let error: string | undefined;
    try {
      const text = readFileSync(path, 'utf8');
      if (/\.ya?ml$/.test(path)) parse(text);
      else if (path.endsWith('.json')) JSON.parse(text);
    } catch (err) {
      error = (err as Error).message;
    }
    out.push({ file: path, ...(error === undefined ? {} : { error }) });
  };
  for (const svc of Object.values(compose.services)) {
    for (const volume of svc.volumes ?? []) {
      const [source] = volume.split(':');
      if (source?.startsWith('./')) {
        const path = join(root, source);
        if (existsSync(path)) visit(path);
        else out.push({ file: path, error: 'does not exist' });
      }
    }
  }
  return out;
}
