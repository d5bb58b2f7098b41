import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMTOOL_BIN, EXAMPLE_CONFIG_PATH } from './support/alertmanager.ts';
import { requireBinary } from './support/binaries.ts';

const run = promisify(execFile);

/** Runs amtool; resolves with the exit code and output instead of rejecting on failure. */
async function amtool(...args: string[]): Promise<{ code: number; out: string }> {
  requireBinary(AMTOOL_BIN); // a missing amtool says "install it", not "exit code -1"
  try {
    const { stdout, stderr } = await run(AMTOOL_BIN, args, { timeout: 20_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llmsec-amtool-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy/alertmanager/alertmanager.yml', () => {
  it('passes amtool check-config', async () => {
    const { code, out } = await amtool('check-config', EXAMPLE_CONFIG_PATH);
    expect(out).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('a broken config fails the same check (the check can fail)', async () => {
    const broken = (await readFile(EXAMPLE_CONFIG_PATH, 'utf8')).replace(
      'receiver: chat\n',
      'receiver: nowhere\n',
    );
    const path = join(dir, 'broken.yml');
    await writeFile(path, broken);
    const { code, out } = await amtool('check-config', path);
    expect(code).not.toBe(0);
    expect(out).toContain('nowhere');
  });

  it.each([
    [['severity=critical', 'user_id=u1', 'alertname=system_prompt_leakage'], 'pager,chat'],
    [['severity=alert', 'user_id=u1', 'alertname=rapid_guardrail_blocks'], 'chat'],
    [['severity=warning', 'fingerprint=abc', 'alertname=coordinated_campaign'], 'chat'],
    // Grouped by fingerprint like a campaign; an alert, not a page: the users are victims.
    [['severity=alert', 'fingerprint=abc', 'alertname=indirect_prompt_injection'], 'chat'],
  ])('routes %j to %s', async (labels, receivers) => {
    const ok = await amtool(
      'config',
      'routes',
      'test',
      `--config.file=${EXAMPLE_CONFIG_PATH}`,
      `--verify.receivers=${receivers}`,
      ...labels,
    );
    expect(ok.code).toBe(0);
    const other = receivers === 'chat' ? 'pager' : 'chat';
    const wrong = await amtool(
      'config',
      'routes',
      'test',
      `--config.file=${EXAMPLE_CONFIG_PATH}`,
      `--verify.receivers=${other}`,
      ...labels,
    );
    expect(wrong.code).not.toBe(0);
  });
});
