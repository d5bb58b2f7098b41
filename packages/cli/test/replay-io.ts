import { PassThrough, Readable } from 'node:stream';
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
