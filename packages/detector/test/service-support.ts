// The detector service in this process for a test: its config written as a file (loadConfig
// reads files, so the test goes through the same parsing as `llmsec detector --config`).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/service/config.ts';
import { startDetector, type RunningDetector } from '../src/service/detector.ts';
import { silentLogger } from '../src/service/log.ts';

/**
 * Writes `config(dir)` into a new temp dir (`dir` is where a test puts its alert file) and
 * starts the detector on it, logging nothing. OTLP receivers listen on free loopback ports
 * unless the config names others.
 */
export async function startDetectorWith(
  tag: string,
  config: (dir: string) => Record<string, unknown>,
): Promise<{ detector: RunningDetector; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `llmsec-detector-${tag}-`));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' }, ...config(dir) }));
  const detector = await startDetector({ config: loadConfig(file), logger: silentLogger });
  return { detector, dir };
}
