// Acceptance scenario through `llmsec detector` fed GenAI spans of other instrumentations
// (OpenInference, Traceloop, the semconv gen_ai.input.messages) as OTLP/JSON traces: ordinary
// multi-turn chats and an agent loop, whose history grows every turn, must raise nothing; a bot
// sending one prompt again and again raises identical_requests; a context stuffer whose own
// message grows raises escalating_length. Expectations from packages/detector/README.md
// "Run it" (what a span becomes: prompt_length, new_input_length, tokens, user, time = end)
// and packages/detect/README.md "Built-in rules" / "Ordinary traffic".
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from '../packages/detector/test/process-support.ts';
import { parseAlerts } from './support/scenarios/check.ts';
import { seeded } from './support/scenarios/gen.ts';

const S = 1000;
const M = 60 * S;
const T0 = Date.parse('2026-12-02T09:00:00.000Z');

type Msg = { role: string; content: string };
type Conv = 'openinference' | 'traceloop' | 'semconv';

function attributesOf(conv: Conv, msgs: Msg[], tokens: [number, number]): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  if (conv === 'openinference') {
    a['openinference.span.kind'] = 'LLM';
    a['llm.model_name'] = 'gpt-4o';
    msgs.forEach((m, i) => {
      a[`llm.input_messages.${i}.message.role`] = m.role;
      a[`llm.input_messages.${i}.message.content`] = m.content;
    });
    a['llm.token_count.prompt'] = tokens[0];
    a['llm.token_count.completion'] = tokens[1];
  } else if (conv === 'traceloop') {
    a['llm.request.type'] = 'chat';
    a['gen_ai.request.model'] = 'gpt-4o';
    msgs.forEach((m, i) => {
      a[`gen_ai.prompt.${i}.role`] = m.role;
      a[`gen_ai.prompt.${i}.content`] = m.content;
    });
    a['gen_ai.usage.prompt_tokens'] = tokens[0];
    a['gen_ai.usage.completion_tokens'] = tokens[1];
  } else {
    a['gen_ai.operation.name'] = 'chat';
    a['gen_ai.request.model'] = 'gpt-4o';
    a['gen_ai.input.messages'] = JSON.stringify(
      msgs.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] })),
    );
    a['gen_ai.usage.input_tokens'] = tokens[0];
    a['gen_ai.usage.output_tokens'] = tokens[1];
  }
  return a;
}

interface SpanOut {
  end: number;
  user: string;
  json: Record<string, unknown>;
}

const rand = seeded(77);
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
const text = (n: number): string => 'lorem ipsum dolor sit amet '.repeat(Math.ceil(n / 27)).slice(0, n);

function span(
  user: string,
  session: string,
  conv: Conv,
  msgs: Msg[],
  end: number,
  tokens: [number, number],
): SpanOut {
  const attrs = { ...attributesOf(conv, msgs, tokens), 'user.id': user, 'session.id': session };
  return {
    end,
    user,
    json: {
      traceId: hex(32),
      spanId: hex(16),
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: String((end - int(300, 4000)) * 1_000_000),
      endTimeUnixNano: String(end * 1_000_000),
      attributes: Object.entries(attrs).map(([key, v]) => ({
        key,
        value: typeof v === 'string' ? { stringValue: v } : { intValue: String(v) },
      })),
      status: {},
    },
  };
}

/** A chat of `turns` turns: the history (system prompt, every message and answer) resent each time. */
function chat(user: string, conv: Conv, turns: number, start: number): SpanOut[] {
  const msgs: Msg[] = [{ role: 'system', content: text(int(300, 900)) }];
  const out: SpanOut[] = [];
  let at = start;
  let tokens = 200;
  for (let t = 0; t < turns; t++) {
    at += int(10, 40) * S;
    // The user's own messages go up and down (a question, "ok", a pasted paragraph).
    msgs.push({ role: 'user', content: text(t % 2 === 0 ? int(150, 600) : int(2, 120)) });
    out.push(span(user, `${user}-s`, conv, [...msgs], at, [tokens, int(50, 400)]));
    const answer = text(int(100, 1500));
    msgs.push({ role: 'assistant', content: answer });
    tokens += Math.floor((answer.length + msgs.at(-2)!.content.length) / 4);
  }
  return out;
}

function tracesBody(spans: SpanOut[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'py-chat' } }] },
        scopeSpans: [{ scope: { name: 'third.party.instrumentation' }, spans: spans.map((s) => s.json) }],
      },
    ],
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('GenAI spans of other instrumentations through llmsec detector', () => {
  it('40-turn chats and an agent loop raise nothing; a replaying bot and a stuffer are caught', async () => {
    const spans: SpanOut[] = [
      ...chat('oi-chat', 'openinference', 40, T0),
      ...chat('tl-chat', 'traceloop', 40, T0 + 7 * S),
      ...chat('sc-chat', 'semconv', 40, T0 + 13 * S),
    ];
    // An agent: one user message, then 25 tool results of varying size, each call resending all.
    {
      const msgs: Msg[] = [
        { role: 'system', content: text(2000) },
        { role: 'user', content: text(80) },
      ];
      for (let i = 0; i < 25; i++) {
        spans.push(
          span('agent-x', 'run-1', 'semconv', [...msgs], T0 + (i + 1) * 6 * S, [
            Math.floor(msgs.reduce((n, m) => n + m.content.length, 0) / 4),
            40,
          ]),
        );
        msgs.push({ role: 'assistant', content: `call tool ${i}` });
        msgs.push({ role: 'tool', content: text(i % 2 === 0 ? int(1500, 4000) : int(50, 900)) });
      }
    }
    // A bot: the same one-message prompt 8 times, 30 s apart: identical_requests at the 6th.
    const bot = Array.from({ length: 8 }, (_, i) =>
      span(
        'bot-1',
        `b-${i}`,
        'openinference',
        [{ role: 'user', content: text(640) }],
        T0 + (i + 1) * 30 * S,
        [170, 20],
      ),
    );
    spans.push(...bot);
    // A stuffer: fresh chats, its own message 100, 150, ... 350 characters: escalating_length at the 6th.
    const stuff = [100, 150, 200, 250, 300, 350].map((n, i) =>
      span(
        'stuffer-x',
        `f-${i}`,
        'traceloop',
        [
          { role: 'system', content: text(500) },
          { role: 'user', content: text(n) },
        ],
        T0 + (i + 1) * 20 * S,
        [200, 30],
      ),
    );
    spans.push(...stuff);
    // Later traffic: event time moves past every quiet period.
    spans.push(
      span('late-clock', 'z', 'semconv', [{ role: 'user', content: 'hi' }], T0 + 3 * 60 * M, [5, 5]),
    );
    spans.sort((a, b) => a.end - b.end);

    const dir = tempDir();
    dirs.push(dir);
    const alerts = join(dir, 'alerts.jsonl');
    const d = await startDetectorProcess(
      writeConfig(dir, 'd.json', { otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' }, sinks: { alerts } }),
    );
    for (let i = 0; i < spans.length; i += 9) {
      const res = await fetch(`${d.httpUrl}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: tracesBody(spans.slice(i, i + 9)),
      });
      expect(res.status, await res.text()).toBe(200);
    }
    d.kill('SIGTERM');
    expect(await d.exited, d.stderr()).toBe(0);
    const lines = existsSync(alerts) ? parseAlerts(readFileSync(alerts, 'utf8')) : [];
    const iso = (ms: number): string => new Date(ms).toISOString();
    expect(lines.map((a) => [a.rule, a.status, a.user_ids, a.starts_at, a.ends_at]).sort()).toEqual(
      [
        ['identical_requests', 'firing', ['bot-1'], iso(bot[5]!.end), undefined],
        ['identical_requests', 'resolved', ['bot-1'], iso(bot[5]!.end), iso(bot[7]!.end + 5 * M)],
        ['escalating_length', 'firing', ['stuffer-x'], iso(stuff[5]!.end), undefined],
        ['escalating_length', 'resolved', ['stuffer-x'], iso(stuff[5]!.end), iso(stuff[5]!.end + 5 * M)],
      ].sort(),
    );
  }, 60_000);
});
