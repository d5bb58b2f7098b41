// The whole run: every scenario laid out on one event-time line (interleaved, as a real log
// is), background users that keep event time moving, and a last event hours later so every
// incident's quiet period ends inside the input. The stream is in arrival order.
import { arrivalOrder, Gen, type GenEvent, type Scenario } from './gen.ts';
import { blockScenarios } from './blocks.ts';
import { payloadScenarios } from './payloads.ts';
import { abuseScenarios } from './abuse.ts';
import { requestScenarios } from './requests.ts';

export type { ExpectedIncident, GenEvent, Scenario } from './gen.ts';

const S = 1000;
const M = 60 * S;

/**
 * The allowed lateness every path runs with (replay --allowed-lateness, detector allowed_lateness):
 * the largest the detector takes, since replicas fed 5 h of event time in seconds ship it
 * (to Redis) that many times further apart in event time than in wall time (see the detector test).
 */
export const LATENESS = '1h';
export const LATENESS_MS = 60 * M;

export interface ScenarioRun {
  scenarios: Scenario[];
  /** Every line, in arrival order. */
  stream: GenEvent[];
  /** event id -> the trace id a reader keeps for it. */
  traceOf: Map<string, string | undefined>;
  /** Background users (no alert may name them). */
  background: string[];
}

export function scenarioRun(seed: number, t0 = Date.parse('2026-12-01T08:00:00.000Z')): ScenarioRun {
  const g = new Gen(seed);
  // Scenarios start 5 min apart (interleaved: most are longer than that); the last incident
  // ends about 3 h 25 min in, an hour before the watermark at the end of the 5 h.
  let k = 0;
  const base = (): number => t0 + k++ * 5 * M + 3 * S;
  const scenarios = [
    ...blockScenarios(g, base, LATENESS_MS),
    ...requestScenarios(g, base),
    ...payloadScenarios(g, base),
    ...abuseScenarios(g, base),
  ];
  const events = scenarios.flatMap((s) => s.events);
  // Background: three ordinary users, a request every 40-100 s for 5 h (event time keeps
  // moving, so late deliveries are judged late and quiet periods end).
  const background: string[] = [];
  for (let u = 0; u < 3; u++) {
    const user = `bg-${u}`;
    background.push(user);
    let last = 0;
    for (let at = t0 + u * 13 * S; at < t0 + 5 * 60 * M; at += g.int(40, 100) * S) {
      let len = g.int(200, 4000);
      if (len === last) len++;
      last = len;
      events.push(
        g.event('request_completed', user, at, {
          severity: 'info',
          metadata: {
            model: 'gpt-4o-mini',
            prompt_length: len,
            prompt_tokens: g.int(300, 700),
            completion_tokens: g.int(50, 200),
            blocked: false,
          },
        }),
      );
    }
  }
  return { scenarios, stream: arrivalOrder(events), traceOf: g.traceOf, background };
}

/** The stream as events JSONL. */
export function toJsonl(stream: GenEvent[]): string {
  return stream.map((e) => JSON.stringify(e.line)).join('\n') + '\n';
}
