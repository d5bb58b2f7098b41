import * as fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { LlmsecMetrics } from '../src/metrics.ts';
import { runInputGuards, runOutputGuards } from '../src/instrumentation/guard-runner.ts';
import { GuardrailBlockedError, OutputBlockedError } from '../src/instrumentation/errors.ts';
import type { GuardInput, InputGuard, OutputGuard } from '../src/instrumentation/index.ts';
import { recordingContext } from './guard-context.ts';

/**
 * The runner records one duration per guard run, after the chain's guards have run (issue 13):
 * these check the records (layers, outcomes, order, values) and results against a model of
 * the chain, for random mixes of sync and async guards that allow, modify, block or throw.
 */

class RecordingMetrics extends LlmsecMetrics {
  readonly records: Array<{ layer: string; outcome: string; seconds: number }> = [];
  override recordGuardrailDuration(input: { layer: string; outcome: string; seconds: number }): void {
    this.records.push({ ...input });
  }
}

type Step = { kind: 'allow' | 'modify' | 'block' | 'throw' | 'null'; async: boolean; spinMs: number };

const step = fc.record({
  kind: fc.constantFrom(
    'allow' as const,
    'modify' as const,
    'block' as const,
    'throw' as const,
    'null' as const,
  ),
  async: fc.boolean(),
  spinMs: fc.constant(0),
});

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const ctxFor = recordingContext;

const start: GuardInput = {
  provider: 'openai',
  operation: 'chat',
  model: 'm',
  system: '',
  messages: [{ role: 'user', content: 'u' }],
  tools: [],
  body: {},
};

function inputGuard(s: Step, i: number): InputGuard {
  const decide = (input: GuardInput) => {
    spin(s.spinMs);
    if (s.kind === 'throw') throw new Error('guard bug');
    if (s.kind === 'null') return null as never;
    if (s.kind === 'modify')
      return {
        action: 'modify' as const,
        messages: [...input.messages, { role: 'user' as const, content: `m${i}` }],
      };
    if (s.kind === 'block') return { action: 'block' as const, reason: `r${i}` };
    return { action: 'allow' as const };
  };
  return {
    name: `g${i}`,
    layer: `layer${i}`,
    check: (input) => (s.async ? Promise.resolve().then(() => decide(input)) : decide(input)),
  };
}

/** What the chain should do: the records (layer, outcome), the messages at the end, the blocking guard. */
function model(steps: Step[]): {
  records: Array<{ layer: string; outcome: string }>;
  contents: string[];
  blockedAt: number | undefined;
} {
  const records: Array<{ layer: string; outcome: string }> = [];
  const contents = ['u'];
  for (let i = 0; i < steps.length; i++) {
    const kind = (steps[i] as Step).kind;
    const outcome = kind === 'block' || kind === 'modify' ? kind : 'allow';
    records.push({ layer: `layer${i}`, outcome });
    if (kind === 'block') return { records, contents, blockedAt: i };
    if (kind === 'modify') contents.push(`m${i}`);
  }
  return { records, contents, blockedAt: undefined };
}

describe('guard runner: duration records and results', () => {
  it('input chains: one record per guard run, in order, with the outcome; the same result as the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 6 }), async (steps) => {
        const metrics = new RecordingMetrics();
        const { ctx, emitted } = ctxFor(start);
        const expected = model(steps);
        let result;
        let error: unknown;
        try {
          result = await runInputGuards(steps.map(inputGuard), start, ctx, metrics);
        } catch (err) {
          error = err;
        }
        expect(metrics.records.map(({ layer, outcome }) => ({ layer, outcome }))).toEqual(expected.records);
        for (const r of metrics.records) expect(r.seconds).toBeGreaterThanOrEqual(0);
        if (expected.blockedAt !== undefined) {
          expect(error).toBeInstanceOf(GuardrailBlockedError);
          expect((error as GuardrailBlockedError).reason).toBe(`r${expected.blockedAt}`);
          expect(emitted).toEqual(['guardrail_block']);
        } else {
          expect(error).toBeUndefined();
          expect(result?.input.messages.map((m) => m.content)).toEqual(expected.contents);
          expect(result?.modified).toBe(expected.contents.length > 1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('output chains: the same, for response checks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 6 }), async (steps) => {
        const metrics = new RecordingMetrics();
        const { ctx, emitted } = ctxFor(start);
        const guards: OutputGuard[] = steps.map((s, i) => ({
          name: `g${i}`,
          layer: `layer${i}`,
          checkResponse: (out) => {
            const decide = () => {
              if (s.kind === 'throw') throw new Error('guard bug');
              if (s.kind === 'null') return null as never;
              if (s.kind === 'modify') return { action: 'modify' as const, text: `${out.text}+${i}` };
              if (s.kind === 'block') return { action: 'block' as const, reason: `r${i}` };
              return { action: 'allow' as const };
            };
            return s.async ? Promise.resolve().then(decide) : decide();
          },
        }));
        const expected = model(steps);
        let result;
        let error: unknown;
        try {
          result = await runOutputGuards(guards, { text: 't', toolCalls: [] }, ctx, metrics);
        } catch (err) {
          error = err;
        }
        expect(metrics.records.map(({ layer, outcome }) => ({ layer, outcome }))).toEqual(expected.records);
        if (expected.blockedAt !== undefined) {
          expect(error).toBeInstanceOf(OutputBlockedError);
          expect(emitted).toEqual(['output_filter_block']);
        } else {
          expect(error).toBeUndefined();
          const mods = expected.contents.slice(1).map((m) => `+${m.slice(1)}`);
          expect(result?.text).toBe(mods.length === 0 ? undefined : `t${mods.join('')}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("each guard's duration is its own check's time, not its neighbours' (records made after the chain)", () => {
    // A fake clock that only the second guard advances: exact, and no flake when the machine
    // is busy (a real 20 ms spin let a preempted neighbour look slow under load).
    let now = 1_000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const metrics = new RecordingMetrics();
      const costs = [0, 20, 0, 0];
      const guards: InputGuard[] = costs.map((ms, i) => ({
        name: `g${i}`,
        layer: `layer${i}`,
        check: (input) => {
          now += ms;
          return i === 2
            ? { action: 'modify', messages: [...input.messages, { role: 'user', content: 'm' }] }
            : { action: 'allow' };
        },
      }));
      void runInputGuards(guards, start, ctxFor(start).ctx, metrics);
      expect(metrics.records.map((r) => r.layer)).toEqual(['layer0', 'layer1', 'layer2', 'layer3']);
      const s = metrics.records.map((r) => r.seconds);
      expect(s[1]).toBeCloseTo(0.02, 9);
      for (const k of [0, 2, 3]) expect(s[k]).toBe(0);
    } finally {
      clock.mockRestore();
    }
  });

  it('a guard that runs a chain of its own gets its own records (chains in chains)', () => {
    const metrics = new RecordingMetrics();
    const inner: InputGuard[] = [
      inputGuard({ kind: 'allow', async: false, spinMs: 0 }, 7),
      inputGuard({ kind: 'modify', async: false, spinMs: 0 }, 8),
    ];
    const outer: InputGuard = {
      name: 'outer',
      layer: 'outer',
      check: (input, ctx) => {
        void runInputGuards(inner, input, ctx, metrics);
        return { action: 'allow' };
      },
    };
    const chain = [
      inputGuard({ kind: 'allow', async: false, spinMs: 0 }, 0),
      outer,
      inputGuard({ kind: 'block', async: false, spinMs: 0 }, 2),
    ];
    expect(() => runInputGuards(chain, start, ctxFor(start).ctx, metrics)).toThrow(GuardrailBlockedError);
    // The inner chain's records are made when it ends (inside the outer check); the outer's after its block.
    expect(metrics.records.map((r) => `${r.layer}:${r.outcome}`)).toEqual([
      'layer7:allow',
      'layer8:modify',
      'layer0:allow',
      'outer:allow',
      'layer2:block',
    ]);
    // And again: the logs given back are reused without mixing records.
    metrics.records.length = 0;
    expect(() => runInputGuards(chain, start, ctxFor(start).ctx, metrics)).toThrow(GuardrailBlockedError);
    expect(metrics.records).toHaveLength(5);
  });
});
