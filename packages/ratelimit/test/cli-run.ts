// `llmsec ...` run in this process (the cli package's runCli) with its output captured: what
// the `llmsec limits` tests call.
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../cli/src/cli.ts';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(args, { stdin: Readable.from([]), stdout, stderr });
  return { code, out, err };
}
