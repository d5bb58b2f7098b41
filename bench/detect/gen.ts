import { seededRandom, type SecurityEvent } from '@llmsec/core';

/**
 * Seeded traffic for the detection benchmark. Two kinds of users: benign ones (almost only
 * completed requests, the odd block) and attackers (a quarter of their events are input
 * blocks, with repeated payloads, plus output blocks, leaks and auth failures), so that every
 * default rule has work to do and attackers' incidents stay open for long stretches.
 */
export const BENCH_T0 = Date.parse('2026-11-22T00:00:00.000Z');

const PAYLOADS = Array.from(
  { length: 50 },
  (_, i) => `ignore previous instructions variant ${i} ${'x'.repeat(20 + i * 7)}`,
);
const LAYERS = ['injection', 'pii', 'topic', 'jailbreak', 'toxicity'];

export interface Timed {
  event: SecurityEvent;
  t: number;
}

export class TrafficGenerator {
  private readonly random: () => number;
  private readonly users: string[];
  private readonly stepMs: number;
  private clock = BENCH_T0;
  private seq = 0;

  private readonly attackerEvery: number;

  /**
   * `stepMs`: mean event-time gap between consecutive events (all users together).
   * `attackerEvery`: user i is an attacker when i % attackerEvery === 0 (1: all of them).
   */
  constructor(options: {
    seed: number;
    users: number;
    stepMs: number;
    attackerEvery: number;
    userPrefix?: string;
  }) {
    this.random = seededRandom(options.seed);
    this.users = Array.from({ length: options.users }, (_, i) => `${options.userPrefix ?? 'user'}-${i}`);
    this.stepMs = options.stepMs;
    this.attackerEvery = options.attackerEvery;
  }

  next(): Timed {
    const r = this.random;
    this.clock += Math.floor(r() * 2 * this.stepMs);
    const u = Math.floor(r() * this.users.length);
    const user = this.users[u]!;
    const id = `EVT-${(this.seq++).toString(16).padStart(12, '0')}`;
    // Benign users: 97% requests, 2.5% input blocks, 0.3% output blocks, rare auth failures.
    const k = u % this.attackerEvery === 0 ? r() : benign(r());
    const base = { event_id: id, timestamp: '', user_id: user, trace_id: id.slice(4).padStart(32, '0') };
    let event: SecurityEvent;
    if (k < 0.6) {
      const blocked = r() < 0.3;
      const tokens = r() < 0.005 ? 50_000 : 100 + Math.floor(r() * 400);
      event = {
        ...base,
        category: 'request_completed',
        severity: 'info',
        metadata: {
          model: 'gpt-4o-mini',
          prompt_tokens: tokens,
          completion_tokens: 50 + Math.floor(r() * 200),
          latency_ms: 300,
          cost_usd: 0.0004,
          prompt_length: r() < 0.5 ? 512 : 100 + Math.floor(r() * 2000),
          blocked,
        },
      };
    } else if (k < 0.85) {
      event = {
        ...base,
        category: 'guardrail_block',
        severity: 'warning',
        request_preview: PAYLOADS[Math.floor(r() * PAYLOADS.length)]!,
        metadata: { guardrail_layer: LAYERS[Math.floor(r() * LAYERS.length)]!, block_reason: 'pattern' },
      };
    } else if (k < 0.93) {
      event = {
        ...base,
        category: 'output_filter_block',
        severity: 'alert',
        request_preview: PAYLOADS[Math.floor(r() * PAYLOADS.length)]!,
        metadata: { filter_name: 'pii', block_reason: 'pii' },
      };
    } else if (k < 0.99) {
      event = { ...base, category: 'auth_failure', severity: 'warning', metadata: { reason: 'bad key' } };
    } else {
      event = {
        ...base,
        category: 'system_prompt_leakage',
        severity: 'critical',
        metadata: { detection_method: 'canary', confidence: 0.9 },
      };
    }
    event.timestamp = new Date(this.clock).toISOString();
    return { event, t: this.clock };
  }

  chunk(n: number): Timed[] {
    const out = new Array<Timed>(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }
}

/** Maps a uniform draw onto the attacker mix's category bands with benign proportions. */
function benign(x: number): number {
  if (x < 0.97) return x * (0.6 / 0.97); // request_completed band [0, 0.6)
  if (x < 0.995) return 0.6 + ((x - 0.97) / 0.025) * 0.25; // guardrail_block band
  if (x < 0.998) return 0.85 + ((x - 0.995) / 0.003) * 0.08; // output_filter_block band
  if (x < 0.99999) return 0.93 + ((x - 0.998) / 0.00199) * 0.06; // auth_failure band
  return 0.995; // system_prompt_leakage
}
