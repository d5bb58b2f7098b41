// Scenarios of the block rules (rapid_guardrail_blocks, output_filter_bypass,
// escalating_complexity, systematic_enumeration), each at / one below / one above its figure,
// with the windows' half-open edge, out-of-order delivery and events delivered past the
// allowed lateness. Expectations from packages/detect/README.md "Built-in rules" and "Semantics".
import { Gen, type Scenario } from './gen.ts';

const S = 1000;
const M = 60 * S;
const RULES = 'packages/detect/README.md "Built-in rules"';

export function blockScenarios(g: Gen, base: (k: number) => number, lateMs: number): Scenario[] {
  const out: Scenario[] = [];
  const layer = (l: string, extra: Record<string, unknown> = {}) => ({
    guardrail_layer: l,
    block_reason: 'prompt_injection',
    ...extra,
  });

  // Exactly ten in 540 s, each from another session and conversation of the same user.
  {
    const b = base(0);
    const user = 'rapid-at';
    const events = Array.from({ length: 10 }, (_, i) =>
      g.event('guardrail_block', user, b + i * M, {
        session: `sess-${i % 3}`,
        conversation: `conv-${i}`,
        metadata: layer('input'),
      }),
    );
    out.push({
      name: 'rapid_guardrail_blocks at its figure (10 in 10 min), one user across 3 sessions / 10 conversations',
      doc: `${RULES}: ≥ 10 guardrail_block in 10 min, group_by user_id`,
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: user },
          users: [user],
          startsAt: b + 9 * M,
          endsAt: b + 9 * M + 10 * M,
        },
      ],
      users: [user],
      fingerprints: [],
    });
  }

  // Nine, then a tenth exactly one window after the first: the first is outside (half-open).
  {
    const b = base(1);
    const user = 'rapid-edge';
    const events = Array.from({ length: 9 }, (_, i) =>
      g.event('guardrail_block', user, b + i * M, { metadata: layer('input') }),
    );
    events.push(g.event('guardrail_block', user, b + 10 * M, { metadata: layer('input') }));
    out.push({
      name: 'rapid_guardrail_blocks one below: the 10th block exactly 10 min after the 1st',
      doc: `${RULES}: "Windows ... are half-open: an event exactly one window older than another is outside it"`,
      events,
      expected: [],
      users: [user],
      fingerprints: [],
    });
  }

  // Eleven a second apart, delivered shuffled within 3 min (< the allowed lateness), unicode id.
  {
    const b = base(2) + 123; // not on a whole second
    const user = 'атакующий-😈-攻撃者';
    const events = Array.from({ length: 11 }, (_, i) =>
      g.event('guardrail_block', user, b + i * S, {
        session: `🧵-${i}`,
        metadata: layer('input'),
        late: g.int(0, 3 * M),
      }),
    );
    out.push({
      name: 'rapid_guardrail_blocks one above (11 in 10 s), unicode/emoji user, shuffled within the lateness',
      doc: `${RULES}; README "Semantics": events out of order by less than the lateness are handled as in order`,
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: user },
          users: [user],
          startsAt: b + 9 * S,
          endsAt: b + 10 * S + 10 * M,
        },
      ],
      users: [user],
      fingerprints: [],
    });
  }

  // Nine on time and one delivered an hour late (past the lateness): dropped, no alert; an hour
  // later the same attacker, ten blocks from ten new sessions: one incident.
  {
    const b = base(3);
    const user = 'hopper';
    const events = Array.from({ length: 9 }, (_, i) =>
      g.event('guardrail_block', user, b + i * M, { session: `h1-${i}`, metadata: layer('input') }),
    );
    events.push(
      g.event('guardrail_block', user, b + 4 * M + 30 * S, {
        metadata: layer('input'),
        late: lateMs + 45 * M,
      }),
    );
    const b2 = b + 60 * M;
    for (let i = 0; i < 10; i++) {
      events.push(
        g.event('guardrail_block', user, b2 + i * 12 * S, { session: `h2-${i}`, metadata: layer('input') }),
      );
    }
    out.push({
      name: 'rapid_guardrail_blocks: the 10th block past the allowed lateness is dropped; the attacker back an hour later from new sessions fires once',
      doc: `README "Semantics": an event older than the newest seen minus the allowed lateness is late: counted and dropped`,
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: user },
          users: [user],
          startsAt: b2 + 9 * 12 * S,
          endsAt: b2 + 9 * 12 * S + 10 * M,
        },
      ],
      users: [user],
      fingerprints: [],
    });
  }

  // Output filter: three in 599 s fire; three whose third is exactly a window after the first do not.
  {
    const b = base(4);
    const events = [0, 200, 599].map((s) =>
      g.event('output_filter_block', 'leaky-3', b + s * S, {
        severity: 'alert',
        metadata: { filter_name: 'secrets', block_reason: 'api_key', response_length: 900 },
      }),
    );
    for (const s of [0, 300, 600]) {
      events.push(
        g.event('output_filter_block', 'leaky-2', b + s * S, {
          severity: 'alert',
          metadata: { filter_name: 'secrets', block_reason: 'api_key' },
        }),
      );
    }
    for (let i = 0; i < 8; i++) {
      events.push(
        g.event('request_completed', 'leaky-3', b + i * 70 * S, {
          severity: 'info',
          metadata: {
            model: 'gpt-4o',
            prompt_tokens: 300 + i * 40,
            completion_tokens: 200,
            prompt_length: 1200 + i * 333,
            blocked: false,
          },
        }),
      );
    }
    out.push({
      name: 'output_filter_bypass at its figure (3 in 599 s) and one below (3rd exactly 10 min after the 1st)',
      doc: `${RULES}: ≥ 3 output_filter_block in 10 min`,
      events,
      expected: [
        {
          rule: 'output_filter_bypass',
          labels: { user_id: 'leaky-3' },
          users: ['leaky-3'],
          startsAt: b + 599 * S,
          endsAt: b + 599 * S + 10 * M,
        },
      ],
      users: ['leaky-3', 'leaky-2'],
      fingerprints: [],
    });
  }

  // Escalating complexity: 100..201 fires (201 > 2 x 100); 100..200 does not; prompt_length past the preview's cap.
  {
    const b = base(5);
    const events = [100, 120, 150, 180, 201].map((len, i) =>
      g.event('guardrail_block', 'jb-grow', b + i * M, {
        metadata: layer('jailbreak', { prompt_length: len }),
      }),
    );
    for (const [i, len] of [100, 120, 150, 180, 200].entries()) {
      events.push(
        g.event('guardrail_block', 'jb-flat', b + i * M, {
          metadata: layer('jailbreak', { prompt_length: len }),
        }),
      );
    }
    for (const [i, len] of [200, 450, 700, 900, 1100].entries()) {
      // prompt_length wins over the preview (value: [metadata.prompt_length, request_preview]):
      // the preview is cut at 500, where growth reads as repeats (200 450 500 500 500: 3 steps).
      events.push(
        g.event('output_filter_block', 'jb-preview', b + i * M, {
          severity: 'alert',
          preview: 'p'.repeat(Math.min(len, 500)),
          metadata: { filter_name: 'f', block_reason: 'r', prompt_length: len },
        }),
      );
    }
    out.push({
      name: 'escalating_complexity one above (last 201 > 2 x 100), at (200), and past the preview cap',
      doc: `${RULES}: ≥ 5 blocks in 10 min whose prompt_length (or preview lengths) never decrease, the last > 2x the first`,
      events,
      expected: [
        {
          rule: 'escalating_complexity',
          labels: { user_id: 'jb-grow' },
          users: ['jb-grow'],
          startsAt: b + 4 * M,
          endsAt: b + 4 * M + 10 * M,
        },
        {
          rule: 'escalating_complexity',
          labels: { user_id: 'jb-preview' },
          users: ['jb-preview'],
          startsAt: b + 4 * M,
          endsAt: b + 4 * M + 10 * M,
        },
        // jb-preview's five output blocks within 10 min are also output_filter_bypass (≥ 3).
        {
          rule: 'output_filter_bypass',
          labels: { user_id: 'jb-preview' },
          users: ['jb-preview'],
          startsAt: b + 2 * M,
          endsAt: b + 4 * M + 10 * M,
        },
      ],
      users: ['jb-grow', 'jb-flat', 'jb-preview'],
      fingerprints: [],
    });
  }

  // Enumeration: three layers fire, two layers repeated do not.
  {
    const b = base(6);
    const events = ['input', 'pii', 'jailbreak'].map((l, i) =>
      g.event('guardrail_block', 'enum-3', b + i * 30 * S, { metadata: layer(l) }),
    );
    for (const [i, l] of ['input', 'pii', 'input', 'pii', 'input'].entries()) {
      events.push(g.event('guardrail_block', 'enum-2', b + i * 30 * S, { metadata: layer(l) }));
    }
    out.push({
      name: 'systematic_enumeration at its figure (3 layers) and one below (2 layers, 5 blocks)',
      doc: `${RULES}: ≥ 3 distinct metadata.guardrail_layer among guardrail_block in 10 min`,
      events,
      expected: [
        {
          rule: 'systematic_enumeration',
          labels: { user_id: 'enum-3' },
          users: ['enum-3'],
          startsAt: b + 60 * S,
          endsAt: b + 60 * S + 10 * M,
        },
      ],
      users: ['enum-3', 'enum-2'],
      fingerprints: [],
    });
  }

  // Two bursts of five at the window's two ends: 595-599 s after the first burst all ten are in
  // one window; 600-604 s after it, never more than five.
  {
    const b = base(8);
    const events = [];
    for (const [user, gap] of [
      ['edge-burst-in', 595],
      ['edge-burst-out', 600],
    ] as const) {
      for (let i = 0; i < 5; i++)
        events.push(g.event('guardrail_block', user, b + i * S, { metadata: layer('input') }));
      // The second burst arrives first, the first one late within the lateness.
      for (let i = 0; i < 5; i++)
        events.push(g.event('guardrail_block', user, b + (gap + i) * S, { metadata: layer('input') }));
    }
    for (const e of events.slice(0, 5)) e.arrive += 11 * M;
    out.push({
      name: 'rapid_guardrail_blocks: bursts of 5 at both ends of the window (595 s apart fire, 600 s apart do not)',
      doc: `${RULES}; "Windows ... are half-open"`,
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: 'edge-burst-in' },
          users: ['edge-burst-in'],
          startsAt: b + 599 * S,
          endsAt: b + 599 * S + 10 * M,
        },
      ],
      users: ['edge-burst-in', 'edge-burst-out'],
      fingerprints: [],
    });
  }

  // An id past the 256 UTF-16 units the SDK writes and the detector keeps (another producer's
  // log): every reader cuts it there, so the alert names the same user whichever path read it.
  {
    const b = base(9);
    const long = `${'Ω'.repeat(10)}${'x'.repeat(290)}😈`;
    const cut = long.slice(0, 256);
    const events = Array.from({ length: 10 }, (_, i) =>
      g.event('guardrail_block', long, b + i * 20 * S, {
        session: `${'s'.repeat(400)}-${i}`,
        metadata: layer('input'),
      }),
    );
    out.push({
      name: 'rapid_guardrail_blocks from a 301-unit user id (and 400-unit session ids): one user, cut at 256',
      doc: 'packages/detector/README.md "Receiving OTLP": user, session and conversation ids longer than 256 characters are cut there, as the SDK cuts them',
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: cut },
          users: [cut],
          startsAt: b + 180 * S,
          endsAt: b + 180 * S + 10 * M,
        },
      ],
      users: [cut, long],
      fingerprints: [],
    });
  }

  // Twenty blocked requests from one user in five minutes, each with its request_completed.
  {
    const b = base(7);
    const user = 'burst20';
    const events = [];
    for (let i = 0; i < 20; i++) {
      // Lengths that go up and down (not an escalation), two layers (not enumeration).
      const len = i % 2 === 0 ? g.int(300, 500) : g.int(60, 250);
      const at = b + i * 15 * S;
      events.push(
        g.event('guardrail_block', user, at, {
          conversation: `c-${i % 4}`,
          metadata: layer(i % 3 === 0 ? 'input' : 'jailbreak', { prompt_length: len }),
        }),
      );
      events.push(
        g.event('request_completed', user, at + 5, {
          severity: 'info',
          conversation: `c-${i % 4}`,
          metadata: {
            model: 'gpt-4o',
            prompt_tokens: 0,
            completion_tokens: 0,
            prompt_length: len,
            blocked: true,
            outcome: 'blocked',
            latency_ms: 12,
          },
        }),
      );
    }
    out.push({
      name: 'twenty blocked requests from one user in five minutes',
      doc: `${RULES}: rapid_guardrail_blocks (≥ 10 in 10 min) and high_block_rate (> 10 request_completed in 5 min, more than half blocked)`,
      events,
      expected: [
        {
          rule: 'rapid_guardrail_blocks',
          labels: { user_id: user },
          users: [user],
          startsAt: b + 9 * 15 * S,
          endsAt: b + 19 * 15 * S + 10 * M,
        },
        {
          rule: 'high_block_rate',
          labels: { user_id: user },
          users: [user],
          startsAt: b + 10 * 15 * S + 5,
          endsAt: b + 19 * 15 * S + 5 + 5 * M,
        },
      ],
      users: [user],
      fingerprints: [],
    });
  }
  return out;
}
