import { describe, expect, it } from 'vitest';
import { defaultRules } from '../src/index.ts';
import { compileRule } from '../src/compile.ts';
import { SlabIdenticalShared } from '../src/slab/identical-shared.ts';
import { slabRulesFor } from '../src/slab/slab-rules.ts';
import { brief, feed, MIN, recordingEngine, request, SEC, T0, type EventSpec } from './helpers.ts';

/**
 * Calls that failed are not replays: a request the provider refused (its own 429 after the
 * client's retries, a 5xx, an overloaded 529, a timeout) or that the in-process limiter refused
 * (outcome rate_limited) is sent again with the same prompt, by the app's retry loop or by a
 * user pressing "retry", and every attempt is a request_completed of the same prompt_length.
 * Neither identical_requests (a scripted replay: the same prompt answered again and again) nor
 * high_block_rate (a ratio of the user's requests the guards decided on) may read them.
 */

const PROMPT = 4_180; // one conversation's history, resent as it is on every attempt

function failed(at: number, user: string, outcome: 'error' | 'rate_limited'): EventSpec {
  const spec = request(at, user, {
    prompt_length: PROMPT,
    new_input_length: 240,
    prompt_tokens: 0,
    completion_tokens: 0,
  });
  spec.metadata = { ...spec.metadata, outcome };
  return spec;
}

describe('failed calls retried with the same prompt raise no alert', () => {
  it('a provider outage: one user retries the same request eight times in four minutes (outcome error)', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 8 }, (_, i) => failed(T0 + i * 30 * SEC, 'u-outage', 'error')),
    );
    engine.advanceTo(T0 + 30 * MIN);
    expect(brief(alerts)).toEqual([]);
  });

  it('retries after 429s from the in-process limiter, backing off (outcome rate_limited), then answered', () => {
    const { engine, alerts } = recordingEngine();
    const at = [0, 5, 15, 35, 75, 155].map((s) => T0 + s * SEC);
    const specs = at.map((t) => failed(t, 'u-429', 'rate_limited'));
    specs.push(request(T0 + 200 * SEC, 'u-429', { prompt_length: PROMPT, new_input_length: 240 }));
    feed(engine, specs);
    engine.advanceTo(T0 + 30 * MIN);
    expect(brief(alerts)).toEqual([]);
  });

  it('a GenAI span of another instrumentation whose call failed (error: true, no outcome), retried', () => {
    const { engine, alerts } = recordingEngine();
    const specs = Array.from({ length: 7 }, (_, i) => {
      const spec = request(T0 + i * 40 * SEC, 'u-span', { prompt_length: PROMPT });
      spec.metadata = { ...spec.metadata, error: true, error_type: 'RateLimitError' };
      return spec;
    });
    feed(engine, specs);
    engine.advanceTo(T0 + 30 * MIN);
    expect(brief(alerts)).toEqual([]);
  });
});

describe('the replay it is for is still caught', () => {
  it('the same prompt answered six times in five minutes: identical_requests', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 6 }, (_, i) => request(T0 + i * 50 * SEC, 'bot', { prompt_length: PROMPT })),
    );
    expect(brief(alerts)).toEqual(['identical_requests:firing:bot']);
  });

  it('a bot replaying through an outage: the answered copies still count, the failed ones do not', () => {
    const { engine, alerts } = recordingEngine();
    const specs: EventSpec[] = [];
    for (let i = 0; i < 12; i++)
      specs.push(
        i % 2 === 0
          ? request(T0 + i * 20 * SEC, 'bot', { prompt_length: PROMPT })
          : failed(T0 + i * 20 * SEC, 'bot', 'error'),
      );
    feed(engine, specs);
    expect(brief(alerts)).toEqual(['identical_requests:firing:bot']);
  });

  it('high_block_rate: most requests the guards judged were blocked, failed calls beside them', () => {
    // 5 answered, 4 failed, then 6 blocked by an over-eager guard: 6 of the 11 judged (fires), but
    // 15 events counted before. Errors left out both sides means the ratio is of judged requests
    // only; this pins that high_block_rate still fires on a majority of those.
    const { engine, alerts } = recordingEngine();
    const specs: EventSpec[] = [];
    for (let i = 0; i < 5; i++)
      specs.push(
        request(T0 + i * 10 * SEC, 'u-mixed', { prompt_length: 500 + i * 300, new_input_length: 100 }),
      );
    for (let i = 0; i < 4; i++) specs.push(failed(T0 + (60 + i * 10) * SEC, 'u-mixed', 'error'));
    for (let i = 0; i < 6; i++)
      specs.push(
        request(T0 + (110 + i * 10) * SEC, 'u-mixed', { prompt_length: 800 + i * 50, blocked: true }),
      );
    feed(engine, specs);
    engine.advanceTo(T0 + 30 * MIN);
    expect(brief(alerts, 'high_block_rate')).toEqual([
      'high_block_rate:firing:u-mixed',
      'high_block_rate:resolved:u-mixed',
    ]);
  });
});

describe('the shared window', () => {
  it("identical_requests still reads high_block_rate's window: both rules carry the same filter", () => {
    const limits = { maxEventsPerWindow: 10_000, maxDistinctValues: 100 };
    const entries = defaultRules().map((d, i) => ({ def: d, rule: compileRule(d, i, limits) }));
    const slabs = slabRulesFor(entries, limits);
    const at = entries.findIndex((e) => e.def.id === 'identical_requests');
    expect(slabs[at]).toBeInstanceOf(SlabIdenticalShared);
  });
});
