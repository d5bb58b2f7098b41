// Scenarios of the rules on authentication, rate-limit and tool events (auth_failure_burst,
// credential_stuffing, rate_limit_persistence, cost_limit_abuse, tool_abuse_repeated), each at / one below / one
// above its figure, with the windows' half-open edge, out-of-order delivery, and what each
// leaves out (`anonymous`, a limiter's store outage, cost refusals for the generic rule).
// Expectations from packages/detect/README.md "Built-in rules" and rules/default-rules.yaml.
import { Gen, type GenEvent, type Scenario } from './gen.ts';

const S = 1000;
const M = 60 * S;
const RULES = 'packages/detect/README.md "Built-in rules"';

export function abuseScenarios(g: Gen, base: () => number): Scenario[] {
  const out: Scenario[] = [];
  const auth = (user: string, at: number, late = 0): GenEvent =>
    g.event('auth_failure', user, at, { metadata: { reason: 'bad_password' }, late });
  const hit = (user: string, at: number, limitType: string, late = 0): GenEvent =>
    g.event('rate_limit_hit', user, at, {
      late,
      metadata: {
        limit_type: limitType,
        reason: limitType,
        current: limitType.startsWith('cost') ? 2_000_100 : 31,
        limit: limitType.startsWith('cost') ? 2_000_000 : 30,
        subject_role: 'primary',
      },
    });
  const tool = (user: string, at: number, name: string, late = 0): GenEvent =>
    g.event('tool_abuse_attempt', user, at, {
      severity: 'alert',
      late,
      metadata: { tool_name: name, block_reason: `tool "${name}" is not allowed (declared in the request)` },
    });

  // auth_failure_burst: 10 in 4.5 min fire; 9 and a 10th exactly 5 min after the first do not;
  // 11 in 10 s delivered shuffled fire at the 10th; 40 under `anonymous` do not.
  {
    const b = base();
    const events: GenEvent[] = [];
    for (let i = 0; i < 10; i++) events.push(auth('auth-at', b + i * 30 * S));
    for (let i = 0; i < 9; i++) events.push(auth('auth-edge', b + i * 30 * S));
    events.push(auth('auth-edge', b + 5 * M));
    const above = 'auth-😈-above';
    for (let i = 0; i < 11; i++) events.push(auth(above, b + i * S, g.int(0, 2 * M)));
    for (let i = 0; i < 40; i++) events.push(auth('anonymous', b + i * 5 * S));
    out.push({
      name: 'auth_failure_burst at its figure (10 in 4.5 min), one below (the 10th at the window edge), one above (11 in 10 s, shuffled), anonymous (40) left out',
      doc: `${RULES}: ≥ 10 auth_failure for one user id (not anonymous) in 5 min`,
      events,
      expected: [
        {
          rule: 'auth_failure_burst',
          labels: { user_id: 'auth-at' },
          users: ['auth-at'],
          startsAt: b + 270 * S,
          endsAt: b + 270 * S + 5 * M,
        },
        {
          rule: 'auth_failure_burst',
          labels: { user_id: above },
          users: [above],
          startsAt: b + 9 * S,
          endsAt: b + 10 * S + 5 * M,
        },
      ],
      users: ['auth-at', 'auth-edge', above, 'anonymous'],
      fingerprints: [],
    });
  }

  // credential_stuffing: one address failing for 55 accounts, one try each, 5 s apart (some
  // delivered late), fires at the 50th and names all 55; a NAT's 49 accounts (the last three
  // failing three times each) and a 50th exactly 5 min after the first do not, nor 40 anonymous
  // failures from it, nor 40 accounts failing without an address. TEST-NET-1 addresses: the
  // generator's random source_ip (198.51.100.x) never lands on them.
  {
    const b = base();
    const events: GenEvent[] = [];
    const from = (e: GenEvent, ip: string | undefined): GenEvent => {
      if (ip === undefined) delete e.line.source_ip;
      else e.line.source_ip = ip;
      return e;
    };
    const stuffer = '192.0.2.66';
    const nat = '192.0.2.200';
    const tried = Array.from({ length: 55 }, (_, i) => `tried-${String(i).padStart(2, '0')}`);
    tried.forEach((u, i) =>
      events.push(from(auth(u, b + i * 5 * S, i % 5 === 2 ? g.int(0, 2 * M) : 0), stuffer)),
    );
    const staff = Array.from({ length: 50 }, (_, i) => `staff-${String(i).padStart(2, '0')}`);
    for (let i = 0; i < 49; i++) events.push(from(auth(staff[i]!, b + i * 5 * S), nat));
    for (let i = 46; i < 49; i++)
      for (const k of [1, 2]) events.push(from(auth(staff[i]!, b + (i * 5 + k) * S), nat));
    events.push(from(auth(staff[49]!, b + 5 * M), nat));
    for (let i = 0; i < 40; i++) events.push(from(auth('anonymous', b + i * 5 * S), nat));
    const roaming = Array.from({ length: 40 }, (_, i) => `roaming-${i}`);
    roaming.forEach((u, i) => events.push(from(auth(u, b + i * 3 * S), undefined)));
    out.push({
      name: 'credential_stuffing: 55 accounts from one address (fires at the 50th, names all), a NAT at 49 with a 50th at the window edge, anonymous and address-less failures left out',
      doc: `${RULES}: ≥ 50 distinct user ids (not anonymous) with auth_failure from one source_ip in 5 min; the accounts are the victims`,
      events,
      expected: [
        {
          rule: 'credential_stuffing',
          labels: { source_ip: stuffer },
          users: tried,
          startsAt: b + 49 * 5 * S,
          endsAt: b + 54 * 5 * S + 5 * M,
        },
      ],
      users: [...tried, ...staff, ...roaming, 'anonymous'],
      fingerprints: [],
      addresses: [stuffer, nat],
    });
  }

  // rate_limit_persistence: 20 refusals of mixed dimensions (enforcement's `blocked` among them)
  // in 4 min 45 s fire; 19 beside 30 store outages and 9 cost refusals do not (neither rule);
  // 21 a second apart fire at the 20th.
  {
    const b = base();
    const events: GenEvent[] = [];
    const kinds = ['rpm', 'tpm', 'concurrent', 'blocked'];
    for (let i = 0; i < 20; i++) events.push(hit('rl-at', b + i * 15 * S, kinds[i % 4]!));
    for (let i = 0; i < 19; i++) events.push(hit('rl-19', b + i * 15 * S, 'rpm'));
    for (let i = 0; i < 30; i++) events.push(hit('rl-19', b + i * 9 * S, 'store_unavailable'));
    for (let i = 0; i < 9; i++) events.push(hit('rl-19', b + i * 30 * S, 'cost_hour'));
    for (let i = 0; i < 21; i++) events.push(hit('rl-above', b + i * S, 'rph', g.int(0, M)));
    out.push({
      name: 'rate_limit_persistence at its figure (20 in 5 min, enforcement refusals counted), one below (19, beside store outages and cost refusals), one above (21 in 20 s)',
      doc: `${RULES}: ≥ 20 rate_limit_hit for one user in 5 min, any limit_type but cost_hour, cost_day and store_unavailable`,
      events,
      expected: [
        {
          rule: 'rate_limit_persistence',
          labels: { user_id: 'rl-at' },
          users: ['rl-at'],
          startsAt: b + 19 * 15 * S,
          endsAt: b + 19 * 15 * S + 5 * M,
        },
        {
          rule: 'rate_limit_persistence',
          labels: { user_id: 'rl-above' },
          users: ['rl-above'],
          startsAt: b + 19 * S,
          endsAt: b + 20 * S + 5 * M,
        },
      ],
      users: ['rl-at', 'rl-19', 'rl-above'],
      fingerprints: [],
    });
  }

  // cost_limit_abuse: 10 cost refusals (hourly and daily) in 9 min fire it and not the generic
  // rule; 9 do not; 11 in 100 s fire at the 10th.
  {
    const b = base();
    const events: GenEvent[] = [];
    for (let i = 0; i < 10; i++) events.push(hit('cost-at', b + i * M, i % 2 ? 'cost_day' : 'cost_hour'));
    for (let i = 0; i < 9; i++) events.push(hit('cost-9', b + i * 30 * S, 'cost_hour'));
    for (let i = 0; i < 11; i++) events.push(hit('cost-above', b + i * 10 * S, 'cost_day'));
    out.push({
      name: 'cost_limit_abuse at its figure (10 cost refusals in 9 min), one below (9), one above (11 in 100 s); none of them rate_limit_persistence',
      doc: `${RULES}: ≥ 10 rate_limit_hit with limit_type cost_hour or cost_day for one user in 10 min`,
      events,
      expected: [
        {
          rule: 'cost_limit_abuse',
          labels: { user_id: 'cost-at' },
          users: ['cost-at'],
          startsAt: b + 9 * M,
          endsAt: b + 9 * M + 10 * M,
        },
        {
          rule: 'cost_limit_abuse',
          labels: { user_id: 'cost-above' },
          users: ['cost-above'],
          startsAt: b + 90 * S,
          endsAt: b + 100 * S + 10 * M,
        },
      ],
      users: ['cost-at', 'cost-9', 'cost-above'],
      fingerprints: [],
    });
  }

  // tool_abuse_repeated: 3 attempts in 9 min fire; 2 and a 3rd exactly 10 min after the first
  // do not; 4 different tools in 30 s fire at the 3rd.
  {
    const b = base();
    const events = [
      tool('tool-at', b, 'shell'),
      tool('tool-at', b + 4 * M, 'shell'),
      tool('tool-at', b + 9 * M, 'shell'),
      tool('tool-edge', b, 'exec'),
      tool('tool-edge', b + M, 'exec'),
      tool('tool-edge', b + 10 * M, 'exec'),
      ...['shell', 'exec', 'fs_write', 'http_post'].map((t, i) =>
        tool('tool-above', b + i * 10 * S, t, g.int(0, M)),
      ),
    ];
    out.push({
      name: 'tool_abuse_repeated at its figure (3 in 9 min), one below (the 3rd at the window edge), one above (4 different tools in 30 s)',
      doc: `${RULES}: ≥ 3 tool_abuse_attempt for one user in 10 min`,
      events,
      expected: [
        {
          rule: 'tool_abuse_repeated',
          labels: { user_id: 'tool-at' },
          users: ['tool-at'],
          startsAt: b + 9 * M,
          endsAt: b + 9 * M + 10 * M,
        },
        {
          rule: 'tool_abuse_repeated',
          labels: { user_id: 'tool-above' },
          users: ['tool-above'],
          startsAt: b + 20 * S,
          endsAt: b + 30 * S + 10 * M,
        },
      ],
      users: ['tool-at', 'tool-edge', 'tool-above'],
      fingerprints: [],
    });
  }
  return out;
}
