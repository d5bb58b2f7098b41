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

describe('trace and span ids that are no W3C id (formats.md: 32 / 16 lowercase hex)', () => {
  it('are left out of the event and its alert, the event still counted; uppercase ids are lowered', async () => {
    const traces = [
      'x'.repeat(10_000), // a hostile string: held by the incident, written into every alert line
      '1-5759e988-bd862e3fe1be46a994272793', // another tracer's format (X-Ray)
      '0'.repeat(32), // the invalid all-zero id
      '<script>alert(1)</script>'.padEnd(32, '-'),
      'ABCDEF0123456789ABCDEF0123456789', // uppercase: the same id lowered
      '0af7651916cd43dd8448eb211c80319c',
    ];
    const spans = ['y'.repeat(5_000), '0'.repeat(16), '00F067AA0BA902B7', 'b7ad6b7169203331', 'zz', ''];
    const input = Array.from({ length: 12 }, (_, i) =>
      line({
        event_id: `EVT-${String(i + 1).padStart(12, '0')}`,
        timestamp: `2026-11-22T10:00:${String((i + 1) * 2).padStart(2, '0')}.000Z`,
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'mallory',
        trace_id: traces[i % traces.length],
        span_id: spans[i % spans.length],
        metadata: { guardrail_layer: 'injection', block_reason: 'x' },
      }),
    );
    const { code, stdout, stderr } = await cli(['replay', '-'], input.join('\n') + '\n');
    expect(code).toBe(0);
    expect(stderr).toContain('12 lines, 12 events, 0 malformed');
    const [firing] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AlertLine & { trigger?: { trace_id: string } });
    expect(firing!.status).toBe('firing');
    expect(firing!.evidence).toHaveLength(10);
    expect(firing!.trace_ids).toEqual([
      'abcdef0123456789abcdef0123456789',
      '0af7651916cd43dd8448eb211c80319c',
    ]);
    expect(stdout.length).toBeLessThan(2_000);
  });
});
