import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEventLine, seededRandom, type Alert, type SecurityEvent } from '@llmsec/core';
import { DEFAULT_RULE_IDS, defaultRules, DetectionEngine, type RuleDefinition } from '@llmsec/detect';
import type { TierLimits } from '@llmsec/ratelimit';
import { startChatApi, type ChatApi } from '../examples/chat-api/app.ts';
import { DEFAULT_TIERS } from '../examples/chat-api/options.ts';
import { demoUpstreamScript } from '../examples/chat-api/upstream-script.ts';
import { startFakeLlm, type FakeLlm } from '../examples/fake-llm/server.ts';
import { drive, type PersonaStats } from '../examples/simulator/driver.ts';
import { ordinaryPersonas } from '../examples/simulator/ordinary-personas.ts';
import { buildPersonas, type Persona } from '../examples/simulator/personas.ts';

/**
 * The benign-traffic regression corpus (issue 14): many ordinary sessions — chats of 10-30
 * turns resending their history, coding-agent loops growing with tool results, RAG users with
 * large contexts, scheduled jobs, an office behind one address — sent through the real example
 * chat API (real HTTP, the instrumented `openai` client, guards, limiter, inline detection)
 * against the fake upstream. Zero alerts may name an ordinary user; the escalation attackers
 * sent alongside must still be caught. The per-rule false-positive rates printed here are the
 * ones in the root README.
 *
 * Time is compressed (minutes of traffic in seconds), which is harsher than real traffic for
 * every windowed rule (everything falls into one window); the plans' limits are raised by the
 * same factor so that the limiter does not refuse the corpus.
 */

const COUNTS = { chats: 24, agents: 6, rag: 6, cron: 4, office: 10 };
const ATTACKERS = ['context stuffing', 'escalating payloads', 'identical-request bot', 'token abuse'];
const DURATION_MS = 6_000;

function roomy(tiers: Record<string, TierLimits>, factor: number): Record<string, TierLimits> {
  const scaled = (t: TierLimits): TierLimits =>
    Object.fromEntries(
      Object.entries(t).map(([k, v]) => [k, typeof v === 'number' ? v * factor : v]),
    ) as TierLimits;
  return Object.fromEntries(Object.entries(tiers).map(([name, t]) => [name, scaled(t)]));
}

let upstream: FakeLlm;
let api: ChatApi;
let outDir: string;
let benign: Persona[];
let attackers: Persona[];
let stats: Map<string, PersonaStats>;
let alerts: Alert[];
let events: SecurityEvent[];

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'llmsec-benign-corpus-'));
  upstream = await startFakeLlm({ script: demoUpstreamScript });
  api = await startChatApi({
    upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
    outDir,
    tiers: roomy(DEFAULT_TIERS, 100),
    serviceName: 'chat-api-benign-corpus',
  });
  benign = ordinaryPersonas(seededRandom(1414), COUNTS);
  attackers = buildPersonas(seededRandom(7)).filter((p) => ATTACKERS.includes(p.name));
  expect(attackers.map((p) => p.name).sort()).toEqual([...ATTACKERS].sort());
  stats = await drive([...benign, ...attackers], { target: api.url, durationMs: DURATION_MS });
  // Closing flushes telemetry and releases what detection holds for reordering.
  await api.close();
  alerts = api.alerts;
  const text = await readFile(join(outDir, 'events.jsonl'), 'utf8');
  events = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => decodeEventLine(l).event);
}, 300_000);

afterAll(async () => {
  await api?.close();
  await upstream?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

const benignUsers = (): string[] => benign.flatMap((p) => p.users);

/** Per rule: the ordinary users it named, out of all ordinary users. */
function falsePositives(found: Alert[]): Map<string, string[]> {
  const users = new Set(benignUsers());
  const out = new Map<string, string[]>();
  for (const a of found.filter((x) => x.status === 'firing')) {
    const named = a.user_ids.filter((u) => users.has(u));
    if (named.length > 0) out.set(a.rule, [...new Set([...(out.get(a.rule) ?? []), ...named])]);
  }
  return out;
}

function replay(rules: RuleDefinition[]): Alert[] {
  const found: Alert[] = [];
  const engine = new DetectionEngine({ rules, allowedLatenessMs: 60_000, onAlert: (a) => found.push(a) });
  for (const e of events) engine.ingest(e, Date.parse(e.timestamp));
  engine.flush();
  return found;
}

describe('benign-traffic corpus through the example chat API', () => {
  it('sent every ordinary session, and every request was answered', () => {
    for (const p of benign) {
      const s = stats.get(p.name)!;
      expect(s.requests, p.name).toBe(p.requests.length);
      expect(s.ok, `${p.name}: ${JSON.stringify(s)}`).toBe(s.requests);
    }
    const sessions = benignUsers().length;
    expect(sessions).toBe(COUNTS.chats + COUNTS.agents + COUNTS.rag + COUNTS.cron + COUNTS.office);
  });

  it('recorded the conversations as conversations: history resent, new input and turn index measured', () => {
    const chat = events.filter((e) => e.category === 'request_completed' && e.user_id === 'chat-01');
    expect(chat.length).toBeGreaterThanOrEqual(10);
    const total = chat.map((e) => e.metadata!.prompt_length as number);
    const own = chat.map((e) => e.metadata!.new_input_length as number);
    expect(chat.map((e) => e.metadata!.turn_index)).toEqual(chat.map((_, i) => i + 1));
    expect(total.at(-1)!).toBeGreaterThan(5 * total[0]!); // the history grew
    expect(Math.max(...own)).toBeLessThan(300); // the user's own messages did not
    const agentSteps = events.filter((e) => e.category === 'request_completed' && e.user_id === 'agent-01');
    expect(agentSteps.slice(1).every((e) => (e.metadata!.new_input_length as number) >= 150)).toBe(true); // tool results
  });

  it('raises no alert for any ordinary user', () => {
    const fp = falsePositives(alerts);
    const rows = DEFAULT_RULE_IDS.map(
      (rule) =>
        `${rule.padEnd(24)} ${String(fp.get(rule)?.length ?? 0).padStart(3)} of ${benignUsers().length}`,
    );
    const users = new Set(benignUsers());
    const requests = events.filter((e) => e.category === 'request_completed' && users.has(e.user_id)).length;
    console.log(
      `false positives per rule on the benign corpus (${users.size} users, ${requests} requests; users flagged):\n${rows.join('\n')}`,
    );
    expect(Object.fromEntries(fp)).toEqual({});
  });

  it('still catches each escalation attacker sent alongside', () => {
    for (const p of attackers) {
      const raised = new Set(
        alerts
          .filter((a) => a.status === 'firing' && a.user_ids.some((u) => p.users.includes(u)))
          .map((a) => a.rule),
      );
      for (const rule of p.expectedRules)
        expect(raised.has(rule), `${p.name}: ${rule} (raised: ${[...raised].join(', ')})`).toBe(true);
    }
  });

  it('the corpus bites: the pre-issue-14 escalating_length (total prompt length) flags most chats', () => {
    const before = defaultRules().map((r) =>
      r.id === 'escalating_length' && r.condition.kind === 'monotonic'
        ? { ...r, condition: { ...r.condition, value: ['metadata.prompt_length'] } }
        : r,
    );
    const now = falsePositives(replay(defaultRules()));
    const then = falsePositives(replay(before));
    console.log(
      `pre-issue-14 escalating_length flags ${then.get('escalating_length')?.length ?? 0} of ${benignUsers().length} ordinary users`,
    );
    expect(Object.fromEntries(now)).toEqual({}); // replay agrees with the live run
    expect(then.get('escalating_length')?.length ?? 0).toBeGreaterThan(COUNTS.chats / 2);
  });
});
