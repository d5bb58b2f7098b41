import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

// A decompression bomb: a 1 MB events.jsonl.gz that inflates to 1 GiB (one line of zero bytes,
// sixteen gzip members of 64 MiB each). `llmsec replay` reads gzip decompressed (1adf4fb); it
// must do so a chunk at a time, the overlong line counted and skipped, never the whole file in
// memory. Measured in a child process (its peak RSS, worker threads included): ~140 MB on one
// thread and ~200 MB on two here; one that inflated the file whole would pass 1 GiB.
const BIN = fileURLToPath(new URL('../bin/llmsec.mjs', import.meta.url));
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const INFLATED = 1 << 30;
const MAX_RSS = 512 << 20;

describe('llmsec replay of a gzip bomb', () => {
  it('reads it in bounded memory (peak RSS under 512 MiB for 1 GiB inflated), on one thread and two', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-gz-bomb-'));
    const member = gzipSync(Buffer.alloc(64 << 20), { level: 9 });
    const bomb = join(dir, 'events.jsonl.gz');
    writeFileSync(bomb, Buffer.concat(Array.from({ length: INFLATED / (64 << 20) }, () => member)));
    // Peak RSS written at exit by a preloaded module (stderr may be cut short at exit).
    const hook = join(dir, 'rss.mjs');
    writeFileSync(
      hook,
      "import { writeFileSync } from 'node:fs';\n" +
        "process.on('exit', () => writeFileSync(process.env.RSS_FILE, String(process.resourceUsage().maxRSS * 1024)));\n",
    );
    for (const threads of ['1', '2']) {
      const rssFile = join(dir, `rss-${threads}`);
      const child = spawn(NODE, ['--import', hook, BIN, 'replay', bomb, '--threads', threads], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, RSS_FILE: rssFile },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr, stderr).toMatch(/llmsec replay: 1 lines, 0 events, 1 malformed/);
      expect(stdout).toBe('');
      // Its one line is no event: exit 1, "no line could be read as a security event".
      expect(code).toBe(1);
      const rss = Number(readFileSync(rssFile, 'utf8'));
      expect(rss, `${threads} thread(s): peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB`).toBeGreaterThan(0);
      expect(rss, `${threads} thread(s): peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(MAX_RSS);
    }
  }, 300_000);
});
