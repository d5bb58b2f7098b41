// Scenarios of the request rules (high_block_rate, identical_requests, escalating_length,
// token_usage_anomaly) and system_prompt_leakage, each at / below / above its figure, and the
// ordinary traffic they must let through: long multi-turn chats whose context grows, a
// tool-heavy agent loop, a cron job. Expectations from packages/detect/README.md "Built-in
// rules" / "Ordinary traffic" and the comments of rules/default-rules.yaml.
import { Gen, type GenEvent, type Scenario } from './gen.ts';

const S = 1000;
const M = 60 * S;
const RULES = 'packages/detect/README.md "Built-in rules"';

interface Req {
  prompt_length?: number;
  new_input_length?: number;
  tokens?: [number, number];
  blocked?: boolean;
  conversation?: string;
  turn?: number;
}

function req(g: Gen, user: string, at: number, r: Req): GenEvent {
  const metadata: Record<string, unknown> = { model: 'gpt-4o-mini', latency_ms: g.int(200, 3000) };
  if (r.tokens) {
    metadata.prompt_tokens = r.tokens[0];
    metadata.completion_tokens = r.tokens[1];
    metadata.cost_usd = (r.tokens[0] + r.tokens[1]) * 1e-6;
  }
  if (r.prompt_length !== undefined) metadata.prompt_length = r.prompt_length;
  if (r.new_input_length !== undefined) metadata.new_input_length = r.new_input_length;
  if (r.turn !== undefined) metadata.turn_index = r.turn;
  if (r.blocked !== undefined) metadata.blocked = r.blocked; // left out: a missing optional field
  return g.event('request_completed', user, at, { severity: 'info', conversation: r.conversation, metadata });
}

/** Lengths in [lo, hi] that go down at least every other step: never an escalation, never all equal. */
function wobble(g: Gen, n: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    out.push(i % 2 === 0 ? g.int(Math.floor((lo + hi) / 2) + 1, hi) : g.int(lo, Math.floor((lo + hi) / 2)));
  return out;
}

export function requestScenarios(g: Gen, base: (k: number) => number): Scenario[] {
  const out: Scenario[] = [];

  // high_block_rate: 6 of 11 blocked fires at the 11th; 6 of 12 (0.5, not above) does not.
  {
    const b = base(0);
    const lens = wobble(g, 12, 400, 900);
    const events = Array.from({ length: 11 }, (_, i) =>
      req(g, 'ratio-above', b + i * 20 * S, { prompt_length: lens[i], blocked: i < 6, tokens: [500, 100] }),
    );
    for (let i = 0; i < 12; i++) {
      events.push(
        req(g, 'ratio-half', b + i * 20 * S, {
          prompt_length: lens[i],
          blocked: i % 2 === 1,
          tokens: [500, 100],
        }),
      );
    }
    out.push({
      name: 'high_block_rate one above (6 of 11 blocked) and at the ratio (6 of 12 = 0.5)',
      doc: `${RULES}: > 10 request_completed in 5 min, more than half with metadata.blocked`,
      events,
      expected: [
        {
          rule: 'high_block_rate',
          labels: { user_id: 'ratio-above' },
          users: ['ratio-above'],
          startsAt: b + 200 * S,
          endsAt: b + 200 * S + 5 * M,
        },
      ],
      users: ['ratio-above', 'ratio-half'],
      fingerprints: [],
    });
  }

  // identical_requests: six in 250 s fire; six whose 6th is exactly 5 min after the 1st do not;
  // a job once a minute for 10 min does not.
  {
    const b = base(1);
    const events = Array.from({ length: 6 }, (_, i) =>
      req(g, 'replay-bot', b + i * 50 * S, { prompt_length: 512, tokens: [g.int(120, 140), g.int(10, 90)] }),
    );
    for (let i = 0; i < 6; i++) events.push(req(g, 'replay-edge', b + i * 60 * S, { prompt_length: 512 }));
    for (let i = 0; i < 10; i++)
      events.push(req(g, 'cron-job', b + i * 60 * S, { prompt_length: 2048, tokens: [700, 50] }));
    out.push({
      name: 'identical_requests at its figure (6 in 250 s), one below (6th exactly 5 min after the 1st), a once-a-minute job',
      doc: `${RULES}: > 5 request_completed in 5 min, all with the same prompt_length; default-rules.yaml: "A cron job at most once a minute stays under 6 in 5 minutes"`,
      events,
      expected: [
        {
          rule: 'identical_requests',
          labels: { user_id: 'replay-bot' },
          users: ['replay-bot'],
          startsAt: b + 250 * S,
          endsAt: b + 250 * S + 5 * M,
        },
      ],
      users: ['replay-bot', 'replay-edge', 'cron-job'],
      fingerprints: [],
    });
  }

  // escalating_length: the user's own input 100..301 over six requests from fresh chats fires;
  // 100..300 (exactly 3x) does not. The total grows as the history does.
  {
    const b = base(2);
    const events = [100, 150, 200, 250, 300, 301].map((n, i) =>
      req(g, 'stuffer', b + i * 30 * S, {
        new_input_length: n,
        prompt_length: 1000 + n,
        conversation: `fresh-${i}`,
        tokens: [400 + n, 80],
      }),
    );
    for (const [i, n] of [100, 140, 180, 220, 260, 300].entries()) {
      events.push(
        req(g, 'stuffer-edge', b + i * 30 * S, {
          new_input_length: n,
          prompt_length: 900 + i * 700 + n,
          conversation: 'one-chat',
          turn: i + 1,
        }),
      );
    }
    out.push({
      name: 'escalating_length one above (301 > 3 x 100, fresh chat each time) and at (300)',
      doc: `${RULES}: > 5 request_completed with new_input_length in 5 min, non-decreasing, the last > 3x the first`,
      events,
      expected: [
        {
          rule: 'escalating_length',
          labels: { user_id: 'stuffer' },
          users: ['stuffer'],
          startsAt: b + 150 * S,
          endsAt: b + 150 * S + 5 * M,
        },
      ],
      users: ['stuffer', 'stuffer-edge'],
      fingerprints: [],
    });
  }

  // token_usage_anomaly: 20 requests of 1,000 tokens then 10,001 fires; then 10,000 (not above
  // 10x) does not; 19 then 50,000 (too few samples) does not.
  {
    const b = base(3);
    const events: GenEvent[] = [];
    const lens = wobble(g, 22, 300, 3000);
    for (const [user, last, n] of [
      ['tok-above', 10_001, 20],
      ['tok-at', 10_000, 20],
      ['tok-19', 50_000, 19],
    ] as const) {
      for (let i = 0; i < n; i++)
        events.push(req(g, user, b + i * 20 * S, { prompt_length: lens[i], tokens: [800, 200] }));
      events.push(req(g, user, b + n * 20 * S, { prompt_length: lens[n], tokens: [last - 500, 500] }));
    }
    out.push({
      name: 'token_usage_anomaly one above (10,001 after 20 x 1,000), at (10,000), and with 19 samples',
      doc: `${RULES}: tokens > 10x the running mean and > mean + 4σ, with ≥ 20 earlier requests`,
      events,
      expected: [
        {
          rule: 'token_usage_anomaly',
          labels: { user_id: 'tok-above' },
          users: ['tok-above'],
          startsAt: b + 400 * S,
          endsAt: b + 400 * S + 10 * M,
        },
      ],
      users: ['tok-above', 'tok-at', 'tok-19'],
      fingerprints: [],
    });
  }

  // system_prompt_leakage: two leaks 5 min apart are one incident; a third 25 min after the first is another.
  {
    const b = base(4);
    const user = 'leaker';
    const events = [0, 5, 25].map((m) =>
      g.event('system_prompt_leakage', user, b + m * M, {
        severity: 'critical',
        metadata: { detection_method: 'canary', confidence: 0.97 },
      }),
    );
    out.push({
      name: 'system_prompt_leakage: every leak alerts, a leak within 10 min joins the open incident, one after it resolved opens another',
      doc: `${RULES}: any system_prompt_leakage (further leaks within 10 min join the incident); "Semantics": resolves a quiet period after the last holding event`,
      events,
      expected: [
        {
          rule: 'system_prompt_leakage',
          labels: { user_id: user },
          users: [user],
          startsAt: b,
          endsAt: b + 15 * M,
        },
        {
          rule: 'system_prompt_leakage',
          labels: { user_id: user },
          users: [user],
          startsAt: b + 25 * M,
          endsAt: b + 35 * M,
        },
      ],
      users: [user],
      fingerprints: [],
    });
  }

  // Ordinary traffic: three 40-turn chats (history grows every turn), a tool-heavy agent, and
  // many users filling one template. None may be flagged.
  {
    const b = base(5);
    const events: GenEvent[] = [];
    const users: string[] = [];
    for (let u = 0; u < 3; u++) {
      const user = `chat-${u}-${'ü'.repeat(u)}`;
      users.push(user);
      let history = 600; // system prompt
      let tokens = 250;
      const typed = wobble(g, 40, 8, 400);
      let at = b + u * 7 * S;
      for (let turn = 1; turn <= 40; turn++) {
        at += g.int(15, 40) * S; // a reply read and a message typed
        const nin = typed[turn - 1]!;
        history += nin;
        events.push(
          req(g, user, at, {
            prompt_length: history,
            new_input_length: nin,
            tokens: [tokens + Math.floor(nin / 4), 180],
            conversation: `chat-${u}`,
            turn,
          }),
        );
        const answer = g.int(200, 1200);
        history += answer;
        tokens += Math.floor((nin + answer) / 4);
      }
    }
    // The agent: 30 model calls in 4 min, each adding a tool result of varying size.
    {
      const user = 'agent-🤖';
      users.push(user);
      let history = 3000;
      const results = wobble(g, 30, 50, 6000);
      for (let turn = 1; turn <= 30; turn++) {
        history += results[turn - 1]! + 120;
        events.push(
          req(g, user, b + turn * 8 * S, {
            prompt_length: history,
            new_input_length: results[turn - 1],
            tokens: [Math.floor(history / 4), 60],
            conversation: 'agent-run',
            turn,
          }),
        );
      }
    }
    out.push({
      name: 'ordinary traffic: three 40-turn chats with growing context, a 30-call tool agent in 4 min',
      doc: 'packages/detect/README.md "Ordinary traffic": conversations of any length and agent loops are tolerated by every rule',
      events,
      expected: [],
      users,
      fingerprints: [],
    });
  }
  return out;
}
