// The config file is read up to 16 MiB and a token file up to 4 KiB, counting the bytes read.
// The token file's cap was a stat() check, which a FIFO or a device passes (size 0): a FIFO fed
// 8 KiB gave an 8 KiB "token", and `--auth-token-file /dev/zero` or `--config /dev/zero` grew
// the process to 22 GB before the kernel killed it (by hand; a FIFO stands in for the device).
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';

const { dir, file } = configDir('llmsec-detector-config-capped-');
const NO_ENV = {};

describe('loadConfig: file sizes counted as read', () => {
  it('refuses a config file over 16 MiB', () => {
    const path = file('big.yaml', `log_level: info\n${'#'.repeat(16 * 1024 * 1024 - 15)}\n`);
    expect(configError(() => loadConfig(path, {}, NO_ENV))).toBe(
      `${dir}/big.yaml: cannot read: larger than 16777216 bytes`,
    );
  });

  it('refuses a token over 4 KiB from a FIFO, which stat() reports empty', async () => {
    const fifo = join(dir, 'token.fifo');
    execFileSync('mkfifo', [fifo]);
    // The writer is another process: loadConfig reads synchronously.
    const writer = spawn('sh', ['-c', `head -c 8192 /dev/zero | tr '\\0' a > '${fifo}'`]);
    const done = new Promise((resolve) => writer.on('exit', resolve));
    expect(configError(() => loadConfig(undefined, { authTokenFile: fifo }, NO_ENV))).toMatch(
      /^--auth-token-file: cannot read .*token\.fifo: larger than 4096 bytes/,
    );
    writer.kill();
    await done;
  });
});
