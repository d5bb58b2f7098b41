// --allowed-lateness is at most 10000000d, as a rule's window and quiet period (an event time
// plus it must stay a timestamp). A longer one replayed in memory, but with --state redis:// every write of the
// shared state failed (its TTL holds the lateness) and the replay ran degraded, detecting
// locally, with nothing but the word "degraded" on the summary's state line (by hand:
// 3650d shared, 99999999999d degraded).
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

describe('llmsec replay --allowed-lateness', () => {
  it('refuses one past the range of a timestamp as a usage error', async () => {
    const r = await cli(['replay', '-', '--allowed-lateness', '99999999999d']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--allowed-lateness: must be at most 10000000d (an event time plus it must stay a timestamp)',
    );
  });

  it('takes the longest', async () => {
    const event = JSON.stringify({
      event_id: 'e1',
      timestamp: '2026-11-22T10:00:00Z',
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
    });
    const r = await cli(['replay', '-', '--allowed-lateness', '10000000d'], `${event}\n`);
    expect(r.stderr).toContain('1 events');
    expect(r.code).toBe(0);
  });
});
