import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/index.ts';

/** Runs the CLI in-process with captured output. */
export async function cli(
  argv: string[],
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runCli(argv, { stdin: Readable.from([stdin]), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

export function line(fields: Record<string, unknown>): string {
  return JSON.stringify(fields);
}

/**
 * A file of `count` guardrail blocks, 10 ms apart, 10 per user (each user fires and resolves
 * rapid_guardrail_blocks): a large alert output for tests of how the CLI writes it.
 */
export function blockFloodFile(count: number, dirPrefix: string): string {
  const t0 = Date.parse('2026-11-22T10:00:00.000Z');
  const input: string[] = [];
  for (let i = 0; i < count; i++) {
    input.push(
      line({
        event_id: `b${i}`,
        timestamp: new Date(t0 + i * 10).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: `u${Math.floor(i / 10)}`,
        trace_id: i.toString(16).padStart(32, '0'),
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  const path = join(mkdtempSync(join(tmpdir(), dirPrefix)), 'events.jsonl');
  writeFileSync(path, input.join('\n'));
  return path;
}

const BIN = fileURLToPath(new URL('../bin/llmsec.mjs', import.meta.url));
const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));

/** `llmsec replay ARGS` as users run it, in a process of its own: its exit code and output. */
export function replayProcess(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
