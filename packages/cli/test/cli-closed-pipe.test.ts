import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blockFloodFile } from './replay-io.ts';

// `llmsec replay big.jsonl | head -1`: the reader goes away and stdout's next write fails with
// EPIPE. The command must end, exit 1 (a failure: not all output was delivered), and not print
// Node's unhandled-'error' stack trace.
const BIN = fileURLToPath(new URL('../bin/llmsec.mjs', import.meta.url));
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));

describe('llmsec with its stdout closed early', () => {
  it('exits 1 without a stack trace, on two threads and on one', async () => {
    const path = blockFloodFile(40_000, 'llmsec-epipe-');
    for (const threads of ['2', '1']) {
      const child = spawn(NODE, [BIN, 'replay', path, '--threads', threads], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).not.toMatch(/Unhandled 'error' event|EPIPE|\n\s+at /);
      expect(code).toBe(1);
    }
  }, 60_000);
});
