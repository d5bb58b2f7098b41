// retry_after is the Retry-After (HTTP) / RetryInfo delay (gRPC) of a 429 or 503. Any positive
// duration loaded: a typo such as `retry_after: 30d` started fine and told every sender refused
// while the queue was full to wait a day (responses.ts clips the delay there, silently), far past
// the minutes a Collector's retry keeps a batch (exporterhelper's max_elapsed_time). At most 1h
// now, as allowed_lateness, exit 2 past it.
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';

const { dir, file } = configDir('llmsec-detector-config-retry-after-');

describe('loadConfig: retry_after', () => {
  it('refuses one longer than 1h, naming the field', () => {
    for (const value of ['61m', '30d', '99999999999d']) {
      expect(configError(() => loadConfig(file('r.yaml', `retry_after: ${value}\n`), {}, {}))).toBe(
        `${dir}/r.yaml: field "retry_after": must be at most 1h (a sender waits that long before it retries)`,
      );
    }
  });

  it('takes 1h', () => {
    expect(loadConfig(file('ok.yaml', 'retry_after: 1h\n'), {}, {}).retry_after).toBe(3_600_000);
  });
});
