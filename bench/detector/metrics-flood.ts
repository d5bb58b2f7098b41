// /metrics flood (the acceptance sweep's attack, reproducible): N connections to a detector's
// OTLP/HTTP port, each sending P pipelined `GET /metrics` and never reading the replies; then,
// while they are open, the wall time of `GET /-/healthy` and of one OTLP/JSON export, each on
// a fresh connection. The detector runs in its own process (`llmsec detector` of the tree
// given), so the flooder's own work is not on its event loop. A/B: run it once per tree,
// alternating rounds, e.g.
//   npx node --conditions=@llmsec/source bench/detector/metrics-flood.ts --tree /tmp/based3 --conns 0,200,1000
//   npx node --conditions=@llmsec/source bench/detector/metrics-flood.ts --conns 0,200,1000
// Prints, per N: healthy ms, export ms, the detector's resident set after the flood.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const TREE = resolve(arg('tree', join(import.meta.dirname, '../..')));
const CONNS = arg('conns', '0,200,1000').split(',').map(Number);
const PIPELINED = Number(arg('pipelined', '50'));
const SETTLE_MS = Number(arg('settle', '200'));

async function startDetector(): Promise<{ url: string; pid: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-flood-'));
  const config = join(dir, 'd.json');
  writeFileSync(
    config,
    JSON.stringify({
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      sinks: { alerts: join(dir, 'a.jsonl') },
    }),
  );
  const child = spawn(
    process.execPath,
    [
      ...(process.env.FLOOD_DETECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--conditions=@llmsec/source',
      join(TREE, 'packages/cli/src/bin.ts'),
      'detector',
      '--config',
      config,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  const started = await new Promise<{ otlp_http: string }>((ok, fail) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const line = err.split('\n').find((l) => l.includes('"detector started"'));
      if (line !== undefined) ok(JSON.parse(line) as { otlp_http: string });
    });
    child.on('exit', (code) => fail(new Error(`detector exited ${code}:\n${err}`)));
  });
  return { url: `http://${started.otlp_http}`, pid: child.pid!, stop: () => child.kill('SIGINT') };
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}

async function timed(url: string, init?: RequestInit): Promise<number> {
  const t = performance.now();
  // A fresh connection each (no keep-alive pool shared with anything else).
  const res = await fetch(url, { ...init, headers: { ...init?.headers, connection: 'close' } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return performance.now() - t;
}

const detector = await startDetector();
const { port, hostname } = new URL(detector.url);
const pipelined = Buffer.from(`GET /metrics HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`.repeat(PIPELINED));
console.log(
  `metrics flood: tree ${TREE}; ${PIPELINED} pipelined GET /metrics per connection, replies never read; ` +
    `load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; node ${process.version}`,
);
await timed(`${detector.url}/-/healthy`); // the client's first fetch pays its own warm-up
for (const n of CONNS) {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((ok) => {
          const s = connect(Number(port), hostname, () => s.write(pipelined, () => ok()));
          s.pause(); // never read
          s.on('error', () => ok());
          sockets.push(s);
        }),
    ),
  );
  await sleep(SETTLE_MS);
  const healthy = await timed(`${detector.url}/-/healthy`);
  const exportMs = await timed(`${detector.url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [] }),
  });
  const rss = rssMb(detector.pid);
  console.log(
    `N=${String(n).padStart(5)}  healthy ${healthy.toFixed(1).padStart(8)} ms  export ${exportMs.toFixed(1).padStart(8)} ms  ` +
      `detector RSS ${rss.toFixed(0)} MB`,
  );
  for (const s of sockets) s.destroy();
  await sleep(500);
}
detector.stop();
