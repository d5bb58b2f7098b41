// The README promises the service's stderr is its log, "one JSON object per line (time, level,
// msg, fields): start, alerts, enforcement actions, failures, stop", so a container runtime, a
// log shipper or Loki can parse it. These tests read every line `llmsec detector` writes there
// over a run that ends by SIGTERM and over a start that fails (port in use), as such a parser
// would: a plain-text line among them is a parse error in the operator's pipeline.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runDetectorCli, startDetectorProcess, tempDir, writeConfig } from './process-support.ts';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Every non-empty stderr line as the JSON log line it must be; fails naming the first that is not. */
function logLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new Error(`stderr line is not JSON: ${JSON.stringify(line)}\nwhole stderr:\n${stderr}`);
      }
      const o = value as LogLine;
      expect(typeof o.time, line).toBe('string');
      expect(Number.isNaN(Date.parse(o.time)), line).toBe(false);
      expect(['debug', 'info', 'warn', 'error'], line).toContain(o.level);
      expect(typeof o.msg, line).toBe('string');
      return o;
    });
}

describe('llmsec detector stderr is JSON lines', () => {
  it('from start to the stop a SIGTERM asks for, the signal named in a field', async () => {
    const cfg = writeConfig(tempDir(), 'c.json', { otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' } });
    const d = await startDetectorProcess(cfg);
    d.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const lines = logLines(d.stderr());
    expect(lines.map((l) => l.msg)).toContain('detector started');
    expect(lines.map((l) => l.msg)).toContain('detector stopped');
    expect(
      lines.some((l) => l.signal === 'SIGTERM'),
      d.stderr(),
    ).toBe(true);
  }, 30_000);

  it('when it cannot start (its HTTP port taken): an error line naming the cause, exit 1', async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
    );
    const run = await runDetectorCli(['--otlp-http', `127.0.0.1:${port}`, '--otlp-grpc', '127.0.0.1:0']);
    expect(run.code, run.stderr).toBe(1);
    const lines = logLines(run.stderr);
    const failure = lines.find((l) => l.level === 'error');
    expect(failure, run.stderr).toBeDefined();
    expect(JSON.stringify(failure)).toContain('EADDRINUSE');
  }, 30_000);

  it('when its gRPC port is taken: an error line naming the cause, exit 1', async () => {
    // grpc-js logged a failed bind itself (console.error by default: the plain text "E No address
    // added out of total 1 resolved" before be0f649 routed its lines to the JSON logger). The
    // receiver now listens on its own net.Server (to cap connections) and grpc-js binds nothing;
    // logLines still fails on any line that is not JSON.
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
    );
    const run = await runDetectorCli(['--otlp-http', '127.0.0.1:0', '--otlp-grpc', `127.0.0.1:${port}`]);
    expect(run.code, run.stderr).toBe(1);
    const lines = logLines(run.stderr);
    const failure = JSON.stringify(lines.find((l) => l.level === 'error'));
    expect(failure).toContain('EADDRINUSE');
    expect(failure).toContain('OTLP/gRPC cannot listen');
  }, 30_000);
});
