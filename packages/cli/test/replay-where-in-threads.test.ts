// `where` predicates `in` / `not_in` (1c49def) through `llmsec replay` on one thread (whole
// events) and on two (the reader thread projects each event to the fields the rules read, and
// the engine's thread rebuilds it): the same alerts, and the ones the predicates' documented
// semantics give (a value equals another of the same text, as group_by joins them: the number
// 429 is the string '429', true is 'true' (6a35449; strict before); case counts, an object or a
// list equals nothing, absent is in no list and outside every not_in list). The values are sloppy on purpose: numbers, booleans,
// objects, arrays, case variants, absent keys, in metadata, a top-level field and a group key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { cli, line } from './replay-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-where-in-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = `
rules:
  - id: cost_in
    title: t
    severity: warning
    match: { categories: [rate_limit_hit], where: [{ field: metadata.limit_type, in: [cost_hour, cost_day, 429, true] }] }
    window: 10m
    condition: { kind: count, min: 3 }
  - id: generic_not_in
    title: t
    severity: warning
    match: { categories: [rate_limit_hit], where: [{ field: metadata.limit_type, not_in: [cost_hour, '429', rpm] }] }
    window: 10m
    condition: { kind: count, min: 5 }
  - id: session_in
    title: t
    severity: warning
    match: { categories: [rate_limit_hit, auth_failure], where: [{ field: session_id, in: [s1, S2] }] }
    window: 10m
    condition: { kind: count, min: 2 }
  - id: by_type
    title: t
    severity: warning
    match: { categories: [rate_limit_hit], where: [{ field: metadata.limit_type, not_in: [rpm] }, { field: user_id, not_in: [anonymous] }] }
    group_by: metadata.limit_type
    window: 10m
    condition: { kind: count, min: 4 }
`;

/** Absent (undefined) included; every other value as JSON writes it. */
const TYPES: unknown[] = [
  'cost_hour',
  'cost_day',
  'Cost_Hour',
  'COST_DAY',
  'rpm',
  'RPM',
  429,
  '429',
  true,
  'true',
  1,
  0,
  '',
  undefined,
  { kind: 'cost_hour' },
  ['cost_hour'],
  'store_unavailable',
];
const SESSIONS: (string | undefined)[] = ['s1', 'S1', 's2', 'S2', undefined, 's1 '];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Ev {
  user: string;
  category: string;
  type: unknown;
  hasType: boolean;
  session: string | undefined;
  role: string | undefined;
}

/** 40 users, each up to `most` events 100 ms apart (inside every window), then a quiet hour. */
function makeLog(
  seed: number,
  types: unknown[] = TYPES,
  roles: (string | undefined)[] = ['primary'],
  most = 25,
): { text: string; events: Ev[] } {
  const random = rng(seed);
  const t0 = Date.parse('2026-11-22T10:00:00.000Z');
  const events: Ev[] = [];
  const lines: string[] = [];
  let n = 0;
  for (let u = 0; u < 40; u++) {
    const user = u === 39 ? 'anonymous' : `user-${u}`;
    const count = Math.floor(random() * most);
    for (let i = 0; i < count; i++) {
      const type = types[Math.floor(random() * types.length)];
      const role = roles[Math.floor(random() * roles.length)];
      const session = SESSIONS[Math.floor(random() * SESSIONS.length)];
      const category = random() < 0.15 ? 'auth_failure' : 'rate_limit_hit';
      const metadata: Record<string, unknown> = { current: 1, limit: 1 };
      if (type !== undefined) metadata.limit_type = type;
      if (role !== undefined) metadata.subject_role = role;
      events.push({ user, category, type, hasType: type !== undefined, session, role });
      lines.push(
        line({
          event_id: `e${n}`,
          timestamp: new Date(t0 + n * 100).toISOString(),
          category,
          severity: 'warning',
          user_id: user,
          ...(session !== undefined ? { session_id: session } : {}),
          metadata,
        }),
      );
      n++;
    }
  }
  // Event time moves an hour on, so every incident resolves before the end.
  lines.push(
    line({
      event_id: 'end',
      timestamp: '2026-11-22T11:00:00.000Z',
      category: 'x',
      severity: 'info',
      user_id: 'z',
    }),
  );
  return { text: lines.join('\n') + '\n', events };
}

/** The documented semantics, independently: a scalar's text against the list's; absent in none. */
const text = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
const isIn = (v: unknown, list: unknown[]): boolean =>
  text(v) !== undefined && list.some((w) => text(w) === text(v));

function expected(events: Ev[]): string[] {
  const counts = new Map<string, number>();
  const add = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const e of events) {
    if (e.category === 'rate_limit_hit') {
      if (isIn(e.type, ['cost_hour', 'cost_day', 429, true])) add(`cost_in|${e.user}`);
      if (!isIn(e.type, ['cost_hour', '429', 'rpm'])) add(`generic_not_in|${e.user}`);
      // group_by an absent field, an empty string or an object: no group (the event is not
      // counted); a number or boolean groups as its text (429 and '429' are one group).
      const groupable = e.hasType && typeof e.type !== 'object' && e.type !== '';
      if (!isIn(e.type, ['rpm']) && e.user !== 'anonymous' && groupable) add(`by_type|${String(e.type)}`);
    }
    if (isIn(e.session, ['s1', 'S2'])) add(`session_in|${e.user}`);
  }
  const min: Record<string, number> = { cost_in: 3, generic_not_in: 5, session_in: 2, by_type: 4 };
  return [...counts]
    .filter(([k, c]) => c >= min[k.split('|')[0]!]!)
    .map(([k]) => k)
    .sort();
}

function firing(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { rule: string; status: string; labels: Record<string, string> })
    .filter((a) => a.status === 'firing')
    .map((a) => `${a.rule}|${Object.values(a.labels)[0]}`)
    .sort();
}

describe('where in / not_in through llmsec replay', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: one thread and two give the same alerts, the ones the semantics give`, async () => {
      const { text, events } = makeLog(seed);
      const log = join(dir, `log-${seed}.jsonl`);
      const rules = join(dir, 'rules.yaml');
      writeFileSync(log, text);
      writeFileSync(rules, RULES);
      const one = await cli(['replay', log, '--threads', '1', '--rules', rules, '--format', 'jsonl']);
      const two = await cli(['replay', log, '--threads', '2', '--rules', rules, '--format', 'jsonl']);
      expect(one.code).toBe(0);
      expect(two.code).toBe(0);
      expect(one.stderr).toContain(' 0 late (dropped)');
      const want = expected(events);
      // Every rule fires somewhere (the log is large enough), so a predicate that let nothing
      // through, or everything, would show.
      for (const id of ['cost_in', 'generic_not_in', 'session_in', 'by_type'])
        expect(want.some((k) => k.startsWith(`${id}|`))).toBe(true);
      expect(firing(one.stdout)).toEqual(want);
      expect(two.stdout).toBe(one.stdout);
    });
  }

  it('the default rules: one thread and two agree, and fire as their where lists say', async () => {
    // Up to 60 refusals per user in one minute: rate_limit_persistence and cost_limit_abuse
    // read metadata.limit_type and metadata.subject_role through the projection.
    const types = ['cost_hour', 'cost_day', 'Cost_Hour', 'rpm', 'tpm', 'store_unavailable', undefined];
    const { text, events } = makeLog(7, types, ['primary', 'secondary', undefined], 60);
    const log = join(dir, 'log-defaults.jsonl');
    writeFileSync(log, text);
    const one = await cli(['replay', log, '--threads', '1', '--format', 'jsonl']);
    const two = await cli(['replay', log, '--threads', '2', '--format', 'jsonl']);
    expect(one.code).toBe(0);
    expect(one.stderr).toContain(' 0 late (dropped)');
    expect(two.stdout).toBe(one.stdout);
    const counts = new Map<string, number>();
    const add = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
    for (const e of events) {
      if (e.category !== 'rate_limit_hit' || e.user === 'anonymous' || e.role === 'secondary') continue;
      if (isIn(e.type, ['cost_hour', 'cost_day'])) add(`cost_limit_abuse|${e.user}`);
      else if (e.type !== 'store_unavailable') add(`rate_limit_persistence|${e.user}`);
    }
    const want = [...counts]
      .filter(([k, c]) => c >= (k.startsWith('cost') ? 10 : 20))
      .map(([k]) => k)
      .sort();
    expect(want.some((k) => k.startsWith('cost_limit_abuse|'))).toBe(true);
    expect(want.some((k) => k.startsWith('rate_limit_persistence|'))).toBe(true);
    const got = firing(one.stdout).filter((k) => /^(cost_limit_abuse|rate_limit_persistence)\|/.test(k));
    expect(got).toEqual(want);
  });
});

describe('where in / not_in on the shared Redis state (--state)', () => {
  let server: RedisHandle;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('one process, and two shards of the log under one ruleset, give the alerts the semantics give', async () => {
    const { text, events } = makeLog(1);
    const rules = join(dir, 'rules-state.yaml');
    writeFileSync(rules, RULES);
    const want = expected(events);
    const whole = await cli(
      ['replay', '-', '--rules', rules, '--format', 'jsonl', '--state', server.url],
      text,
    );
    expect(whole.code, whole.stderr).toBe(0);
    expect(firing(whole.stdout)).toEqual(want);
    // Shards split by line: each sees part of every user's events.
    const lines = text.split('\n').filter((l) => l !== '');
    const shards = [0, 1].map((k) => lines.filter((_, i) => i % 2 === k).join('\n') + '\n');
    const ruleset = `where-in-${process.pid}-${Date.now()}`;
    const runs = await Promise.all(
      shards.map((s) =>
        cli(
          [
            'replay',
            '-',
            '--rules',
            rules,
            '--format',
            'jsonl',
            '--state',
            server.url,
            '--ruleset',
            ruleset,
            '--shards',
            '2',
            '--allowed-lateness',
            '1h',
          ],
          s,
        ).then((r) => (expect(r.code).toBe(0), r)),
      ),
    );
    // Incidents are shared: each fires once, in whichever shard's process saw it cross.
    expect(runs.flatMap((r) => firing(r.stdout)).sort()).toEqual(want);
  });
});
