import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { brief, feed, MIN, recordingEngine, request, SEC, T0, type EventSpec } from './helpers.ts';

/**
 * The built-in rules against the ordinary patterns of issue 14, as request_completed events
 * the SDK writes (total and new-input lengths, tokens that include the history): none may
 * alert. The end-to-end version, through the example chat API, is test/e2e-benign-corpus.
 */

const random = seededRandom(14);
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
const SYSTEM = 320;

/** A chat resending its history: `turns` turns, `gapMs` apart, starting at `start`. */
function chat(user: string, start: number, turns: number, gapMs: number): EventSpec[] {
  const out: EventSpec[] = [];
  let total = SYSTEM;
  for (let i = 0; i < turns; i++) {
    const own = between(15, 400);
    total += own;
    const reply = between(200, 1500);
    out.push(
      request(start + i * gapMs, user, {
        prompt_length: total,
        new_input_length: own,
        prompt_tokens: Math.ceil(total / 4),
        completion_tokens: Math.ceil(reply / 4),
      }),
    );
    total += reply;
  }
  return out;
}

describe('ordinary traffic raises no alert', () => {
  it('20 one-off questions, then a 30-turn chat (the history grows 20x): no escalating_length, no token anomaly', () => {
    const { engine, alerts } = recordingEngine();
    const oneOff = Array.from({ length: 20 }, (_, i) =>
      request(T0 + i * 30 * SEC, 'u1', {
        prompt_length: SYSTEM + 60 + i,
        new_input_length: 60 + i,
        prompt_tokens: 95,
        completion_tokens: 80,
      }),
    );
    feed(engine, [...oneOff, ...chat('u1', T0 + 11 * MIN, 30, 12 * SEC)]);
    expect(brief(alerts)).toEqual([]);
  });

  it('an agent loop: 40 calls 2 s apart, each adding a tool result to a growing context', () => {
    const { engine, alerts } = recordingEngine();
    const steps: EventSpec[] = [];
    let total = 2400; // system prompt and tool definitions
    for (let i = 0; i < 40; i++) {
      const result = i === 0 ? 80 : between(100, 4000); // the task, then tool results
      total += result + 120; // + the assistant's tool call
      steps.push(
        request(T0 + i * 2 * SEC, 'agent-1', {
          prompt_length: total,
          new_input_length: result,
          prompt_tokens: Math.ceil(total / 4),
          completion_tokens: between(20, 200),
        }),
      );
    }
    feed(engine, steps);
    expect(brief(alerts)).toEqual([]);
  });

  it('a RAG user with large, stable contexts', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 30 }, (_, i) => {
        const context = between(6000, 9000);
        return request(T0 + i * 15 * SEC, 'rag-1', {
          prompt_length: SYSTEM + context,
          new_input_length: context,
          prompt_tokens: Math.ceil((SYSTEM + context) / 4),
          completion_tokens: between(100, 300),
        });
      }),
    );
    expect(brief(alerts)).toEqual([]);
  });

  it('a cron job sending one template once a minute for three hours', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      Array.from({ length: 180 }, (_, i) =>
        request(T0 + i * MIN, 'cron-report', {
          prompt_length: 900,
          new_input_length: 580,
          prompt_tokens: 230,
          completion_tokens: between(150, 250),
        }),
      ),
    );
    expect(brief(alerts)).toEqual([]);
  });

  it('twelve users behind one NAT chatting at once (rules group by user, never by address)', () => {
    const { engine, alerts } = recordingEngine();
    const all = Array.from({ length: 12 }, (_, u) => chat(`nat-${u}`, T0 + u * 7 * SEC, 15, 20 * SEC)).flat();
    all.sort((a, b) => a.at - b.at);
    feed(engine, all);
    expect(brief(alerts)).toEqual([]);
  });
});

describe('the attacker is still caught beside them', () => {
  it('a context stuffer whose own message grows, in one conversation', () => {
    const { engine, alerts } = recordingEngine();
    const steps: EventSpec[] = [];
    let total = SYSTEM;
    for (let i = 0; i < 7; i++) {
      const own = 400 + i * 900;
      total += own;
      steps.push(request(T0 + i * 20 * SEC, 'stuffer', { prompt_length: total, new_input_length: own }));
      total += 300;
    }
    feed(
      engine,
      [...chat('u1', T0, 10, 20 * SEC), ...steps].sort((a, b) => a.at - b.at),
    );
    expect(brief(alerts)).toEqual(['escalating_length:firing:stuffer']);
  });
});
