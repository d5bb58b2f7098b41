// Durations the detector waits on with a Node timer (the idle tick, an HTTP body's deadline, the
// SIGTERM drain) must fit a timer: Node runs a setTimeout past 2^31 - 1 ms (24.8 days) after
// 1 ms instead, with a plain-text TimeoutOverflowWarning on stderr. A typo such as `30d` would
// tick every millisecond, answer 408 to any body not received within 1 ms, or end the drain
// at once, so it is refused at start with the field named.
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';

const { dir, file } = configDir('llmsec-detector-config-timers-');
const NO_ENV = {};

describe('loadConfig: durations kept by timers', () => {
  it('refuses a tick, body timeout or shutdown timeout longer than a timer can wait', () => {
    for (const [key, yaml] of [
      ['tick_interval', 'tick_interval: 25d\n'],
      ['otlp.body_timeout', 'otlp: { body_timeout: 30d }\n'],
      ['shutdown_timeout', 'shutdown_timeout: 99999999999d\n'],
    ] as const) {
      expect(error(yaml)).toBe(
        `${dir}/t.yaml: field "${key}": must be at most 24d (2147483647 ms, the longest a timer waits)`,
      );
    }
    expect(configError(() => loadConfig(undefined, { shutdownTimeout: '30d' }, NO_ENV))).toMatch(
      /shutdown.timeout.*must be at most 24d/,
    );
  });

  it('takes the longest a timer waits', () => {
    const c = loadConfig(
      file('ok.yaml', 'tick_interval: 2147483647\notlp: { body_timeout: 24d }\nshutdown_timeout: 24d\n'),
      {},
      NO_ENV,
    );
    expect([c.tick_interval, c.otlp.body_timeout, c.shutdown_timeout]).toEqual([
      2_147_483_647, 2_073_600_000, 2_073_600_000,
    ]);
  });
});

function error(yaml: string): string {
  return configError(() => loadConfig(file('t.yaml', yaml), {}, NO_ENV));
}
