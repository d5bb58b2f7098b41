import { describe, expect, it } from 'vitest';
import { brief, feed, MIN, recordingEngine, request, SEC, T0 } from './helpers.ts';

/** Distinct prompt lengths, so identical_requests stays quiet unless a test wants it. */
const varied = (i: number): number => 400 + ((i * 37) % 11) - 5 + (i % 2 === 0 ? 0 : 1000);

describe('high_block_rate', () => {
  const RULE = 'high_block_rate';

  it('fires on more than 10 requests in 5 minutes with more than half blocked', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) =>
        request(T0 + i * 10 * SEC, 'u1', { blocked: i < 6, prompt_length: varied(i) }),
      ),
    );
    expect(brief(alerts, RULE)).toEqual([]); // 10 requests: not more than 10
    feed(engine, [request(T0 + 100 * SEC, 'u1', { blocked: false, prompt_length: 7 })]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]); // 6 of 11
    expect(alerts.find((a) => a.rule === RULE)!.description).toContain('6 of 11');
  });

  it('does not fire at exactly half, nor when the requests spread over more than 5 minutes', () => {
    const a = recordingEngine();
    feed(
      a.engine,
      Array.from({ length: 12 }, (_, i) =>
        request(T0 + i * SEC, 'u1', { blocked: i % 2 === 1, prompt_length: varied(i) }),
      ),
    );
    expect(brief(a.alerts, RULE)).toEqual([]);
    const b = recordingEngine();
    feed(
      b.engine,
      Array.from({ length: 11 }, (_, i) =>
        request(T0 + i * 30 * SEC, 'u1', { blocked: true, prompt_length: varied(i) }),
      ),
    );
    expect(brief(b.alerts, RULE)).toEqual([]);
  });
});

describe('identical_requests', () => {
  const RULE = 'identical_requests';

  it('fires on more than 5 requests in 5 minutes with one prompt length', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 5 }, (_, i) => request(T0 + i * 30 * SEC, 'u1', { prompt_length: 512 })),
    );
    expect(brief(alerts, RULE)).toEqual([]);
    feed(engine, [request(T0 + 150 * SEC, 'u1', { prompt_length: 512 })]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });

  it('does not fire while a different length is in the window, and fires once it has left', () => {
    const { engine, alerts } = recordingEngine();
    feed(engine, [request(T0, 'u1', { prompt_length: 99 })]);
    feed(
      engine,
      Array.from({ length: 8 }, (_, i) => request(T0 + (i + 1) * 30 * SEC, 'u1', { prompt_length: 512 })),
    );
    expect(brief(alerts, RULE)).toEqual([]); // the 99 is still within 5 minutes of the 8th
    feed(engine, [request(T0 + 5 * MIN, 'u1', { prompt_length: 512 })]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });

  it('never fires on zero lengths', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 10 }, (_, i) => request(T0 + i * SEC, 'u1', { prompt_length: 0 })),
    );
    expect(brief(alerts, RULE)).toEqual([]);
  });
});

describe('escalating_length', () => {
  const RULE = 'escalating_length';

  it('fires on more than 5 non-decreasing new-input lengths whose last is more than 3x the first', () => {
    const { engine, alerts } = recordingEngine();
    const lengths = [100, 150, 200, 250, 300];
    feed(
      engine,
      lengths.map((n, i) => request(T0 + i * 20 * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(alerts, RULE)).toEqual([]);
    feed(engine, [request(T0 + 100 * SEC, 'u1', { new_input_length: 301 })]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });

  it('stays quiet on fixed quick replies then one paste 3x longer (a repeat is not a step)', () => {
    const { engine, alerts } = recordingEngine();
    // "yes" buttons, then a pasted paragraph: two steps, not six growing ones (it fired before).
    const lengths = [3, 3, 3, 3, 3, 3, 3, 40];
    feed(
      engine,
      lengths.map((n, i) => request(T0 + i * 20 * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(alerts, RULE)).toEqual([]);
  });

  it('still catches a stuffer who repeats each length once, or many times, between increases', () => {
    const once = recordingEngine();
    const steps = [100, 150, 200, 250, 300, 301];
    feed(
      once.engine,
      steps.flatMap((n) => [n, n]).map((n, i) => request(T0 + i * 10 * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(once.alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
    expect(once.alerts.find((a) => a.rule === RULE)!.description).toContain('100 150 200 250 300 301');
    // Four of each: 24 requests, 10 s apart (4 minutes, in the 5-minute window); `last: 10`
    // counts steps, so the repeats do not push the first length out of the sequence judged.
    const often = recordingEngine();
    feed(
      often.engine,
      steps
        .flatMap((n) => [n, n, n, n])
        .map((n, i) => request(T0 + i * 10 * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(often.alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });

  it('a length repeated keeps its step in the window as long as its last repeat is', () => {
    const { engine, alerts } = recordingEngine();
    // 100 first at T0 and last at T0 + 4.5 min; the growth after it ends at T0 + 6 min, past
    // the first 100's window but not the last's.
    const events = [
      request(T0, 'u1', { new_input_length: 100 }),
      request(T0 + 270 * SEC, 'u1', { new_input_length: 100 }),
      ...[150, 200, 250, 300, 301].map((n, i) =>
        request(T0 + (300 + i * 15) * SEC, 'u1', { new_input_length: n }),
      ),
    ];
    feed(engine, events);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });

  it('judges only the last 10 lengths: an early dip does not hide later growth', () => {
    const { engine, alerts } = recordingEngine();
    const lengths = [900, 90, 100, 110, 120, 130, 140, 150, 200, 250, 260, 301];
    feed(
      engine,
      lengths.map((n, i) => request(T0 + i * 10 * SEC, 'u1', { new_input_length: n })),
    );
    // Last 10 = 100..301: non-decreasing and 301 > 3 x 100.
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
    expect(alerts.find((a) => a.rule === RULE)!.starts_at).toBe(new Date(T0 + 110 * SEC).toISOString());
  });

  it('does not fire at exactly 3x or with a decrease among the last 10', () => {
    const a = recordingEngine();
    feed(
      a.engine,
      [100, 150, 200, 250, 280, 300].map((n, i) => request(T0 + i * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(a.alerts, RULE)).toEqual([]);
    const b = recordingEngine();
    feed(
      b.engine,
      [100, 150, 140, 250, 280, 400].map((n, i) => request(T0 + i * SEC, 'u1', { new_input_length: n })),
    );
    expect(brief(b.alerts, RULE)).toEqual([]);
  });

  it('a conversation resending its history: the total grows, the new input does not, no alert', () => {
    const { engine, alerts } = recordingEngine();
    const own = [60, 45, 80, 52, 70, 66, 40, 90, 55, 61];
    let total = 300; // the system prompt
    feed(
      engine,
      own.map((n, i) => {
        total += n;
        const e = request(T0 + i * 20 * SEC, 'u1', { prompt_length: total, new_input_length: n });
        total += 700; // the reply, resent with the next turn
        return e;
      }),
    );
    expect(brief(alerts, RULE)).toEqual([]);
  });

  it('old events without new_input_length are not judged (no fallback to the total)', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      [100, 200, 400, 800, 1600, 3200].map((n, i) => request(T0 + i * SEC, 'u1', { prompt_length: n })),
    );
    expect(brief(alerts, RULE)).toEqual([]);
  });

  it('skips calls whose new input has no text instead of reading the total', () => {
    const { engine, alerts } = recordingEngine();
    const seq = [100, 0, 150, 0, 200, 250, 300, 0, 301];
    feed(
      engine,
      seq.map((n, i) => request(T0 + i * SEC, 'u1', { prompt_length: 5000 + i * 1000, new_input_length: n })),
    );
    // Six valued events 100..301, non-decreasing, 301 > 3 x 100: the zeros neither break nor join the run.
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
  });
});

describe('token_usage_anomaly', () => {
  const RULE = 'token_usage_anomaly';
  const baseline = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      request(T0 + i * MIN, 'u1', {
        prompt_tokens: 100 + (i % 5) * 10,
        completion_tokens: 50,
        prompt_length: varied(i),
      }),
    );

  it('fires on a request far above the user baseline once 20 requests form it', () => {
    const { engine, alerts } = recordingEngine();
    feed(engine, [
      ...baseline(20),
      request(T0 + 20 * MIN, 'u1', { prompt_tokens: 5000, completion_tokens: 500, prompt_length: 3 }),
    ]);
    const fired = alerts.filter((a) => a.rule === RULE);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.description).toContain('=5500');
    expect(fired[0]!.evidence).toHaveLength(1);
  });

  it('needs 20 earlier requests', () => {
    const { engine, alerts } = recordingEngine();
    feed(engine, [
      ...baseline(19),
      request(T0 + 20 * MIN, 'u1', { prompt_tokens: 5000, completion_tokens: 500, prompt_length: 3 }),
    ]);
    expect(brief(alerts, RULE)).toEqual([]);
  });

  it('needs both 10x the mean and mean + 4 sigma', () => {
    const { engine, alerts } = recordingEngine();
    // A volatile user: mean ~ 1000, sigma ~ 3000; 10,500 is > 10x the mean but < mean + 4 sigma.
    const volatile = Array.from({ length: 20 }, (_, i) =>
      request(T0 + i * MIN, 'u1', {
        prompt_tokens: i % 10 === 0 ? 9950 : 10,
        completion_tokens: 0,
        prompt_length: varied(i),
      }),
    );
    feed(engine, [
      ...volatile,
      request(T0 + 20 * MIN, 'u1', { prompt_tokens: 10500, completion_tokens: 0, prompt_length: 3 }),
    ]);
    expect(brief(alerts, RULE)).toEqual([]);
  });
});

describe('system_prompt_leakage', () => {
  const RULE = 'system_prompt_leakage';
  const leak = (at: number, user = 'u1') => ({
    at,
    category: 'system_prompt_leakage',
    user,
    metadata: { detection_method: 'canary', confidence: 0.97 },
  });

  it('fires on any leak, folds further leaks in the quiet period into it, and resolves', () => {
    const { engine, alerts } = recordingEngine();
    feed(engine, [leak(T0)]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
    expect(alerts[0]!.severity).toBe('critical');
    feed(engine, [leak(T0 + 9 * MIN), leak(T0 + 15 * MIN)]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
    feed(engine, [leak(T0 + 25 * MIN, 'u2')]);
    expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`, `${RULE}:resolved:u1`, `${RULE}:firing:u2`]);
    expect(alerts[1]!.ends_at).toBe(new Date(T0 + 25 * MIN).toISOString());
    expect(alerts[1]!.evidence).toHaveLength(3);
  });
});
