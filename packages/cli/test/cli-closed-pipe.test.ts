import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { line } from './replay-io.ts';

// `llmsec replay big.jsonl | head -1`: the reader goes away and stdout's next write fails with
// EPIPE. The command must end, exit 1 (a failure: not all output was delivered), and not print
// Node's unhandled-'error' stack trace.
const BIN = fileURLToPath(new URL('../bin/llmsec.mjs', import.meta.url));
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

describe('llmsec with its stdout closed early', () => {
  it('exits 1 without a stack trace, on two threads and on one', async () => {
    const input: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      input.push(
        line({
          event_id: `b${i}`,
          timestamp: new Date(T0 + i * 10).toISOString(),
          category: 'guardrail_block',
          severity: 'warning',
          user_id: `u${Math.floor(i / 10)}`,
          trace_id: i.toString(16).padStart(32, '0'),
          metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
        }),
      );
    }
    const path = join(mkdtempSync(join(tmpdir(), 'llmsec-epipe-')), 'events.jsonl');
    writeFileSync(path, input.join('\n'));
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
