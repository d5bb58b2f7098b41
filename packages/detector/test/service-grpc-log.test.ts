// grpc-js has one logger per process. A detector started inside an application routes grpc-js's
// lines to its own log while it runs (errors as warn), and gives the logger in place before
// back when it shuts down. Before, the detector's logger stayed for good: the application's own
// gRPC lines went on into a stopped detector's log, and never reached the application's logger.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/service/config.ts';
import { startDetector, type RunningDetector } from '../src/service/detector.ts';
import type { Logger } from '../src/service/log.ts';

const running: RunningDetector[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.shutdown();
});

function recordingLogger(): { logger: Logger; lines: Array<[string, string, unknown]> } {
  const lines: Array<[string, string, unknown]> = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (msg === 'grpc-js') lines.push([level, msg, fields?.message]);
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

async function start(logger: Logger): Promise<RunningDetector> {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-grpc-log-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' } }));
  const detector = await startDetector({ config: loadConfig(file), logger });
  running.push(detector);
  return detector;
}

const say = (text: string): void => grpc.experimental.log(grpc.logVerbosity.ERROR, text);

describe("grpc-js's log", () => {
  it("goes to the detector's log while it runs, and back to the host's logger after shutdown", async () => {
    const host: string[] = [];
    grpc.setLogger({ error: (...args: unknown[]) => host.push(args.join(' ')) });
    try {
      const first = recordingLogger();
      const a = await start(first.logger);
      say('while one runs');
      expect(first.lines).toEqual([['warn', 'grpc-js', 'while one runs']]);
      // A second detector in the same process: the latest running one's log.
      const second = recordingLogger();
      const b = await start(second.logger);
      say('while two run');
      expect(second.lines).toEqual([['warn', 'grpc-js', 'while two run']]);
      await b.shutdown();
      say('the second stopped');
      expect(first.lines.at(-1)).toEqual(['warn', 'grpc-js', 'the second stopped']);
      await a.shutdown();
      say('both stopped');
      expect(host).toEqual(['both stopped']);
      expect(first.lines.map((l) => l[2])).toEqual(['while one runs', 'the second stopped']);
      expect(second.lines.map((l) => l[2])).toEqual(['while two run']);
    } finally {
      grpc.setLogger(console);
    }
  });

  it('leaves a logger the host set while the detector ran in place at shutdown', async () => {
    const host: string[] = [];
    try {
      const own = recordingLogger();
      const d = await start(own.logger);
      // The application sets its own grpc-js logger after the detector started.
      grpc.setLogger({ error: (...args: unknown[]) => host.push(args.join(' ')) });
      await d.shutdown();
      say('after shutdown');
      expect(host).toEqual(['after shutdown']);
      expect(own.lines).toEqual([]);
    } finally {
      grpc.setLogger(console);
    }
  });
});
