// A log holding an event twice (at-least-once delivery: a Collector's retry written to the file
// again, two exports of one source concatenated). The detector and the inline processors take
// each event once by event id (ingestOnce), and so does `llmsec replay --state redis://…` (its
// summary counts "duplicate events"); `llmsec replay` on the default in-memory state counted both
// copies (engine.ingest), so one log backtested to an alert the live service never raises: six
// blocks written twice fired rapid_guardrail_blocks (10 in 10 min) in memory, nothing on Redis.
// Found by the acceptance sweep; fixed by 3eef2f8 (engine.ingestOnce at replay-run.ts's call
// sites, one thread and two).
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { cli, line } from './replay-io.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const six = Array.from({ length: 6 }, (_, i) =>
  line({
    event_id: `EVT-${String(i).padStart(12, '0')}`,
    timestamp: new Date(T0 + i * 5_000).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: 'u1',
    metadata: { guardrail_layer: 'injection', block_reason: 'x' },
  }),
);
const log = `${[...six, ...six].join('\n')}\n`;

describe('llmsec replay of a log holding each event twice', () => {
  const r = useRedis();

  it('counts each event id once in memory, as on Redis and in the detector: no alert from six blocks', async () => {
    const onRedis = await cli(['replay', '-', '--allowed-lateness', '1m', '--state', r.server.url], log);
    expect(onRedis.code, onRedis.stderr).toBe(0);
    expect(onRedis.stdout).toBe('');
    const inMemory = await cli(['replay', '-', '--allowed-lateness', '1m'], log);
    expect(inMemory.code, inMemory.stderr).toBe(0);
    expect(inMemory.stdout).toBe(onRedis.stdout);
  });
});
