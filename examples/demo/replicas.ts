import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Alert } from '@llmsec/core';

/**
 * `npm run demo -- --replicas N`: N chat-API processes (examples/chat-api/main.ts), as behind a
 * load balancer. Each writes its own events and alerts under `<out>/replica-<i>/`; with Redis,
 * detection and limits are shared, so the replicas catch what one process would.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'examples', 'chat-api', 'main.ts');

export interface ReplicaOptions {
  count: number;
  upstreamUrl: string;
  outDir: string;
  redisUrl?: string;
  otlpEndpoint?: string;
  alertmanagerUrl?: string;
  /** The shared detection state's namespace: fresh per demo run, so runs never meet. */
  ruleset: string;
}

export interface Replicas {
  urls: string[];
  /** Firing and resolved alerts written so far by all replicas that were not returned before. */
  newAlerts(): Alert[];
  /** SIGTERM to every replica (each flushes detection and telemetry), then waits for them. */
  close(): Promise<void>;
  /** Every replica's alerts, and the merged events / alerts files written to `outDir`. */
  merge(): { alerts: Alert[]; events: number; alertLines: number };
}

export async function startReplicas(options: ReplicaOptions): Promise<Replicas> {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const seen: number[] = [];
  try {
    const urls = await Promise.all(
      Array.from({ length: options.count }, (_, i) => {
        const dir = join(options.outDir, `replica-${i + 1}`);
        mkdirSync(dir, { recursive: true });
        dirs.push(dir);
        seen.push(0);
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          LLMSEC_UPSTREAM_URL: options.upstreamUrl,
          LLMSEC_FAKE_UPSTREAM: 'false',
          LLMSEC_OUT_DIR: dir,
          LLMSEC_DETECT_RULESET: options.ruleset,
          // The demo runs the simulator, the fake LLM and every replica on one machine: allow
          // Redis a stall longer than the 250 ms default before a replica goes degraded.
          LLMSEC_DETECT_TIMEOUT_MS: '2000',
          OTEL_SERVICE_NAME: `chat-api-${i + 1}`,
        };
        if (options.redisUrl !== undefined) env.LLMSEC_REDIS_URL = options.redisUrl;
        if (options.alertmanagerUrl !== undefined) env.LLMSEC_ALERTMANAGER_URL = options.alertmanagerUrl;
        if (options.otlpEndpoint !== undefined) env.OTEL_EXPORTER_OTLP_ENDPOINT = options.otlpEndpoint;
        // The demo's own Node flags (--conditions=@llmsec/source: run the sources) carry over.
        const child = spawn(process.execPath, [...process.execArgv, MAIN], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        return listening(child, i + 1);
      }),
    );
    return {
      urls,
      newAlerts: () => {
        const out: Alert[] = [];
        dirs.forEach((dir, i) => {
          const lines = alertLines(join(dir, 'alerts.jsonl'));
          for (let k = seen[i]!; k < lines.length; k++) out.push(JSON.parse(lines[k]!) as Alert);
          seen[i] = lines.length;
        });
        return out;
      },
      close: () => stopAll(children),
      merge: () => {
        const alerts: string[] = [];
        const events: string[] = [];
        for (const dir of dirs) {
          alerts.push(...alertLines(join(dir, 'alerts.jsonl')));
          events.push(...alertLines(join(dir, 'events.jsonl')));
        }
        writeFileSync(join(options.outDir, 'alerts.jsonl'), alerts.map((l) => `${l}\n`).join(''));
        // One log in event-time order, as one process would have written it: the replicas'
        // files one after the other would put each later file's events up to the whole run
        // behind the first's, and `llmsec replay` (5 s allowed lateness) would drop them as late.
        writeFileSync(
          join(options.outDir, 'events.jsonl'),
          byEventTime(events)
            .map((l) => `${l}\n`)
            .join(''),
        );
        return {
          alerts: alerts.map((l) => JSON.parse(l) as Alert),
          events: events.length,
          alertLines: alerts.length,
        };
      },
    };
  } catch (err) {
    await stopAll(children);
    throw err;
  }
}

/** Complete lines only: a replica may be half-way through writing the last one. */
/** Lines in the order of their `timestamp` (stable: ties keep file order). */
function byEventTime(lines: string[]): string[] {
  const time = (line: string): number => {
    const t = Date.parse((JSON.parse(line) as { timestamp?: string }).timestamp ?? '');
    return Number.isFinite(t) ? t : 0;
  };
  return lines
    .map((line, i) => ({ line, i, t: time(line) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((e) => e.line);
}

function alertLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n');
  return end < 0
    ? []
    : text
        .slice(0, end)
        .split('\n')
        .filter((l) => l.trim() !== '');
}

function listening(child: ChildProcess, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // A bound on a replica that hangs, not a start-time budget: three replicas loading from
    // source on a loaded 2-core host took over 30 s (the former bound) to listen.
    const timer = setTimeout(
      () => reject(new Error(`chat-api replica ${n} did not start within 120 s`)),
      120_000,
    );
    child.once('exit', (code) =>
      reject(new Error(`chat-api replica ${n} exited (${code}) before listening`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
