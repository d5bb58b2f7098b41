// docs/formats.md: an alert's `trace_ids` are "trace ids of the evidence". On a resolved line
// whose evidence moved on (the first 5 and the last 5 events), trace_ids follow it: 6 and 7, no
// longer evidence, are not listed, 11 and 12 are. Until @llmsec/detect kept the trace id with
// each evidence entry they stayed the firing line's (events 1-10); this was an `it.fails`.
import { describe, expect, it } from 'vitest';
import { cli, line } from './replay-io.ts';

interface AlertLine {
  status: string;
  evidence: string[];
  trace_ids?: string[];
}

async function replayTwelveBlocks(): Promise<AlertLine[]> {
  const input: string[] = [];
  for (let i = 1; i <= 12; i++) {
    input.push(
      line({
        event_id: `EVT-${String(i).padStart(12, '0')}`,
        timestamp: `2026-11-22T10:00:${String(i * 2).padStart(2, '0')}.000Z`,
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'mallory',
        trace_id: String(i).padStart(32, '0'),
        metadata: { guardrail_layer: 'injection', block_reason: 'x' },
      }),
    );
  }
  // A later event moves event time past the quiet period: the incident resolves.
  input.push(
    line({
      event_id: 'EVT-999999999999',
      timestamp: '2026-11-22T11:00:00.000Z',
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'someone-else',
      metadata: { reason: 'x' },
    }),
  );
  const { code, stdout } = await cli(['replay', '-'], input.join('\n') + '\n');
  expect(code).toBe(0);
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AlertLine);
}

const suffix = (ids: string[] | undefined): string[] => (ids ?? []).map((id) => id.slice(-2));

describe('alert trace_ids follow the evidence', () => {
  it('on the firing line', async () => {
    const [firing] = await replayTwelveBlocks();
    expect(firing!.status).toBe('firing');
    expect(suffix(firing!.trace_ids)).toEqual(suffix(firing!.evidence));
  });

  it('on the resolved line', async () => {
    const resolved = (await replayTwelveBlocks()).find((a) => a.status === 'resolved')!;
    expect(suffix(resolved.evidence)).toEqual(['01', '02', '03', '04', '05', '08', '09', '10', '11', '12']);
    expect(suffix(resolved.trace_ids)).toEqual(suffix(resolved.evidence));
  });
});
