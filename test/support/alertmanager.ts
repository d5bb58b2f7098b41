import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { getFreePort } from './ports.ts';
import { startServer, type ServerProcess } from './process.ts';

/** Debian's package installs the binary under this name (not `alertmanager`). */
export const ALERTMANAGER_BIN = 'prometheus-alertmanager';
export const AMTOOL_BIN = 'amtool';

export interface AlertmanagerHandle {
  /** Base URL, e.g. http://127.0.0.1:41234 (the sink appends /api/v2/alerts). */
  readonly url: string;
  readonly port: number;
  /** Everything Alertmanager printed since the last (re)start, for failure messages. */
  output(): string;
  /** Stops the process and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with fresh storage: Alertmanager forgets its alerts. */
  restart(): Promise<void>;
}

export interface StartAlertmanagerOptions {
  /** alertmanager.yml text. */
  config: string;
  /** Listen port; default: a free one. Given, a test can point a sink at an Alertmanager not started yet. */
  port?: number;
  readyTimeoutMs?: number;
}

/**
 * Starts a real Alertmanager on 127.0.0.1 in a temp dir, with clustering disabled: an empty
 * --cluster.listen-address, otherwise it binds 0.0.0.0:9094 (colliding between parallel tests)
 * and waits for the gossip to settle before it notifies. Ready once GET /-/ready answers 200.
 */
export async function startAlertmanager(options: StartAlertmanagerOptions): Promise<AlertmanagerHandle> {
  const port = options.port ?? (await getFreePort());
  const url = `http://127.0.0.1:${port}`;
  let dir = '';
  const launch = async (): Promise<ServerProcess> => {
    // The config must exist before the process starts, so the dir is ours, not startServer's.
    dir = await mkdtemp(join(tmpdir(), 'llmsec-alertmanager-'));
    await writeFile(join(dir, 'alertmanager.yml'), options.config);
    return await startServer(
      ALERTMANAGER_BIN,
      (d) => [
        `--config.file=${join(d, 'alertmanager.yml')}`,
        `--storage.path=${join(d, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      {
        name: 'alertmanager',
        dir,
        readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
        ready: async () => (await fetch(`${url}/-/ready`)).ok,
      },
    );
  };
  const stopCurrent = async (p: ServerProcess): Promise<void> => {
    await p.stop();
    await rm(p.dir, { recursive: true, force: true });
  };
  let proc = await launch();
  let stopped = false;
  return {
    url,
    port,
    output: () => proc.output(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopCurrent(proc);
    },
    restart: async () => {
      await stopCurrent(proc);
      proc = await launch();
      stopped = false;
    },
  };
}

/** The example configuration shipped in deploy/. */
export const EXAMPLE_CONFIG_PATH = fileURLToPath(
  new URL('../../deploy/alertmanager/alertmanager.yml', import.meta.url),
);

export interface TestConfigOptions {
  /** Replaces every receiver's webhook URLs: receiver name -> URL. */
  receiverUrls: Record<string, string>;
  /** Applied to the route and every sub-route, so a test need not wait the production 30s. */
  groupWait: string;
  groupInterval: string;
}

interface RouteNode {
  group_wait?: string;
  group_interval?: string;
  routes?: RouteNode[];
}

/**
 * The example alertmanager.yml, unchanged but for its receiver URLs (pointed at the test's
 * webhook receiver) and its group timings (shortened): routing, inhibition and repeat
 * intervals are the shipped ones, so the test exercises the real configuration.
 */
export async function exampleConfigForTest(options: TestConfigOptions): Promise<string> {
  const doc = parseYaml(await readFile(EXAMPLE_CONFIG_PATH, 'utf8')) as {
    route: RouteNode;
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  const retime = (node: RouteNode, top: boolean): void => {
    if (top || node.group_wait !== undefined) node.group_wait = options.groupWait;
    if (top || node.group_interval !== undefined) node.group_interval = options.groupInterval;
    for (const child of node.routes ?? []) retime(child, false);
  };
  retime(doc.route, true);
  for (const receiver of doc.receivers) {
    const url = options.receiverUrls[receiver.name];
    if (url === undefined) throw new Error(`no test URL for receiver ${receiver.name}`);
    for (const hook of receiver.webhook_configs ?? []) hook.url = url;
  }
  return stringifyYaml(doc);
}

/** One notification as Alertmanager's webhook receiver posts it (version 4 payload). */
export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
  }[];
  /** The request path, e.g. /chat: tells receivers apart. */
  path: string;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly notifications: WebhookNotification[];
  close(): Promise<void>;
}

/** A node:http server collecting Alertmanager webhook notifications (any path). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: WebhookNotification[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      try {
        notifications.push({
          ...(JSON.parse(body) as Omit<WebhookNotification, 'path'>),
          path: req.url ?? '',
        });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    notifications,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How many of the instance's alerts for `user_id=user` are active (Alertmanager's API v2 view). */
export async function activeAlertsFor(am: AlertmanagerHandle, user: string): Promise<number> {
  const filter = encodeURIComponent(`user_id="${user}"`);
  const res = await fetch(`${am.url}/api/v2/alerts?active=true&filter=${filter}`);
  const list = (await res.json()) as { status: { state: string } }[];
  return list.filter((a) => a.status.state === 'active').length;
}

/**
 * alertmanager.yml for tests that read Alertmanager's API: one receiver that sends nothing.
 * `resolveTimeout` (e.g. '5s') sets global.resolve_timeout; Alertmanager's default is 5m.
 */
export function silentAlertmanagerConfig(resolveTimeout?: string): string {
  const global = resolveTimeout === undefined ? '' : `global:\n  resolve_timeout: ${resolveTimeout}\n`;
  return `${global}route:\n  receiver: none\nreceivers:\n  - name: none\n`;
}

/**
 * One real Alertmanager (silentAlertmanagerConfig) for the tests of the enclosing file or
 * describe block: started in beforeAll, stopped in afterAll, as useRedis does for redis-server
 * (the set-up each Alertmanager test file had its own copy of). Read the handle inside tests.
 */
export function useAlertmanager(options: { resolveTimeout?: string } = {}): AlertmanagerHandle {
  let am: AlertmanagerHandle | undefined;
  beforeAll(async () => {
    am = await startAlertmanager({ config: silentAlertmanagerConfig(options.resolveTimeout) });
  }, 30_000);
  afterAll(async () => {
    await am?.stop();
  });
  const started = (): AlertmanagerHandle => {
    if (am === undefined) throw new Error('useAlertmanager: read the handle inside a test');
    return am;
  };
  return {
    get url() {
      return started().url;
    },
    get port() {
      return started().port;
    },
    output: () => started().output(),
    stop: () => started().stop(),
    restart: () => started().restart(),
  };
}
