// The warning that fleet enforcement takes records from any sender on a non-loopback address
// judged the configured host's text: `localhost` counted as loopback and every other name as
// open. Since a name is listened on at every address it resolves to, the addresses listened on
// decide: `localhost` with a LAN address among its records listens there and warns; a name that
// resolves to loopback only (Debian's own host name is 127.0.1.1) does not.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { loadConfig } from '../src/service/config.ts';
import { startDetector, type RunningDetector } from '../src/service/detector.ts';
import type { Logger } from '../src/service/log.ts';

/** An IPv4 address of this host that is not loopback, if it has one. */
const lan = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

const resolved = new Map<string, string[]>([
  ['localhost', ['127.0.0.1', ...(lan === undefined ? [] : [lan])]],
  ['box.test', ['127.0.1.1']],
]);
vi.mock('../src/otlp/listen-addresses.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/otlp/listen-addresses.ts')>();
  return {
    ...real,
    listenAddresses: async (host: string) => resolved.get(host) ?? real.listenAddresses(host),
  };
});

const redis = useRedis();
let running: RunningDetector | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

async function warningsAt(otlp: Record<string, unknown>): Promise<{ msg: string; fields: unknown }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-open-names-'));
  const file = join(dir, 'config.json');
  const config = {
    otlp,
    sinks: { alerts: join(dir, 'alerts.jsonl') },
    enforcement: { redis: redis.server.url, actions: [{ rule: 'system_prompt_leakage', action: 'ban' }] },
  };
  writeFileSync(file, JSON.stringify(config));
  const warnings: { msg: string; fields: unknown }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => warnings.push({ msg, fields }),
    error() {},
  };
  running = await startDetector({ config: loadConfig(file), logger });
  await running.shutdown();
  running = undefined;
  return warnings.filter((w) => w.msg.includes('fleet enforcement'));
}

describe('fleet enforcement on open receivers: judged by the addresses listened on', () => {
  it.skipIf(lan === undefined)('warns for localhost listening on a LAN address too', async () => {
    const warnings = await warningsAt({ http: 'localhost:0', grpc: '127.0.0.1:0' });
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0]!.fields)).toContain(`${lan}:`);
  });

  it('is quiet for a name listening on loopback only', async () => {
    expect(await warningsAt({ http: 'box.test:0', grpc: 'box.test:0' })).toEqual([]);
  });

  it('still warns for a wildcard and not for 127.0.0.1', async () => {
    expect(await warningsAt({ http: '0.0.0.0:0', grpc: '127.0.0.1:0' })).toHaveLength(1);
    expect(await warningsAt({ http: '127.0.0.1:0', grpc: '[::1]:0' })).toEqual([]);
  });
});
