import { payloadFingerprint, type SecurityEvent } from '@llmsec/core';
import type { RuleDefinition } from '../src/index.ts';

/**
 * A brute-force reference for the differential test: no incremental state, no cleverness.
 * Every evaluation re-reads the whole history of the group and recomputes the condition from
 * the definition in the rule docs. Written separately from the engine on purpose.
 */

export interface Timed {
  event: SecurityEvent;
  t: number;
}

export interface RefAlert {
  rule: string;
  key: string;
  status: 'firing' | 'resolved';
  startsAt: number;
  endsAt?: number;
}

export interface RefResult {
  alerts: RefAlert[];
  /** An evaluation hit an exact floating-point tie; the engine may legitimately differ. */
  ambiguous: boolean;
  droppedLate: number;
}

function field(e: SecurityEvent, path: string): unknown {
  if (path === 'fingerprint') {
    const recorded = e.metadata?.payload_fingerprint;
    if (typeof recorded === 'string' && recorded !== '') return recorded;
    return e.request_preview ? payloadFingerprint(e.request_preview) : undefined;
  }
  if (path.startsWith('metadata.')) return e.metadata?.[path.slice(9)];
  return (e as unknown as Record<string, unknown>)[path];
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The rule docs: values compare by their text (a number and its digits are one value), as group keys. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}
const same = (v: unknown, want: unknown): boolean => text(v) !== undefined && text(v) === text(want);

function size(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v === 'string') return v.length;
  return 0;
}

export function reference(arrivals: Timed[], rules: RuleDefinition[], latenessMs: number): RefResult {
  // 1. Lateness, judged in arrival order.
  let maxSeen = Number.NEGATIVE_INFINITY;
  let droppedLate = 0;
  const accepted: Timed[] = [];
  for (const a of arrivals) {
    if (a.t < maxSeen - latenessMs) {
      droppedLate++;
      continue;
    }
    maxSeen = Math.max(maxSeen, a.t);
    accepted.push(a);
  }
  // 2. Event-time order (stable: ties keep arrival order).
  const events = accepted.map((a, i) => ({ ...a, i })).sort((x, y) => x.t - y.t || x.i - y.i);

  const alerts: RefAlert[] = [];
  let ambiguous = false;
  const open = new Map<string, { rule: RuleDefinition; key: string; startsAt: number; lastTrue: number }>();
  const history = new Map<string, Timed[]>();
  const quiet = (r: RuleDefinition) => r.quiet_ms ?? r.window_ms;

  const resolveUpTo = (t: number) => {
    for (const [id, inc] of [...open]) {
      if (inc.lastTrue + quiet(inc.rule) <= t) {
        open.delete(id);
        alerts.push({
          rule: inc.rule.id,
          key: inc.key,
          status: 'resolved',
          startsAt: inc.startsAt,
          endsAt: inc.lastTrue + quiet(inc.rule),
        });
      }
    }
  };

  for (const { event, t } of events) {
    resolveUpTo(t);
    for (const rule of rules) {
      if (!rule.match.categories.includes(event.category)) continue;
      if (
        rule.match.where?.some((w) => {
          const v = field(event, w.field);
          // The rule docs: in, one of the list (by text, as group keys); not_in, absent or none of it.
          if (w.in !== undefined) return !w.in.some((x) => same(v, x));
          if (w.not_in !== undefined) return v !== undefined && w.not_in.some((x) => same(v, x));
          return w.equals !== undefined ? !same(v, w.equals) : (v !== undefined) !== (w.exists ?? true);
        })
      )
        continue;
      const key = str(field(event, rule.group_by));
      if (key === undefined) continue;
      const hk = `${rule.id}\u0000${key}`;
      const hist = history.get(hk) ?? [];
      hist.push({ event, t });
      history.set(hk, hist);
      const win = hist.filter((h) => h.t > t - rule.window_ms);
      const verdict = evaluate(rule, win, hist, event);
      if (verdict === 'tie') ambiguous = true;
      if (verdict !== true) continue;
      const inc = open.get(hk);
      if (inc) inc.lastTrue = t;
      else {
        open.set(hk, { rule, key, startsAt: t, lastTrue: t });
        alerts.push({ rule: rule.id, key, status: 'firing', startsAt: t });
      }
    }
  }
  resolveUpTo(maxSeen);
  return { alerts, ambiguous, droppedLate };
}

function evaluate(rule: RuleDefinition, win: Timed[], hist: Timed[], event: SecurityEvent): boolean | 'tie' {
  const c = rule.condition;
  switch (c.kind) {
    case 'count':
      return win.length >= c.min;
    case 'distinct':
      return (
        new Set(win.map((w) => str(field(w.event, c.field))).filter((v) => v !== undefined)).size >= c.min
      );
    case 'cross_group':
      return (
        new Set(win.map((w) => str(field(w.event, c.across))).filter((v) => v !== undefined)).size >= c.min
      );
    case 'ratio': {
      const want = c.equals ?? true;
      const hits = win.filter((w) => same(field(w.event, c.field), want)).length;
      return win.length >= c.min_events && hits / win.length > c.above;
    }
    case 'identical': {
      const vals = win.map((w) => field(w.event, c.field));
      return win.length >= c.min_events && vals.every((v) => typeof v === 'number' && v > 0 && v === vals[0]);
    }
    case 'monotonic': {
      const valueOf = (e: SecurityEvent) => {
        for (const p of c.value) {
          const v = size(field(e, p));
          if (v > 0) return v;
        }
        return 0;
      };
      // Steps: the window's values, a repeat of the one before it not one (conditions/repeats.ts).
      const vals: number[] = [];
      for (const w of win) {
        const v = valueOf(w.event);
        if (v > 0 && v !== vals[vals.length - 1]) vals.push(v);
      }
      if (vals.length < c.min_events || vals.length === 0) return false;
      const seq = vals.slice(-(c.last ?? vals.length));
      for (let i = 1; i < seq.length; i++) if (seq[i]! < seq[i - 1]!) return false;
      return seq[seq.length - 1]! > c.factor * seq[0]!;
    }
    case 'baseline': {
      const valueOf = (e: SecurityEvent): number | undefined => {
        const xs = c.sum
          .map((p) => field(e, p))
          .filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
        return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0);
      };
      const v = valueOf(event);
      if (v === undefined) return false;
      const earlier = hist
        .slice(0, -1)
        .map((h) => valueOf(h.event))
        .filter((x): x is number => x !== undefined);
      const n = earlier.length;
      if (n < c.min_samples) return false;
      // Exact integer arithmetic (token counts are integers): v > f*mean <=> v*n > f*sum, and
      // v > mean + s*std <=> (v*n - sum)^2 > s^2 * (n*sumsq - sum^2) when v*n > sum.
      const sum = earlier.reduce((a, b) => a + b, 0);
      const sumsq = earlier.reduce((a, b) => a + b * b, 0);
      const lhs1 = v * n;
      const rhs1 = c.factor * sum;
      const d = v * n - sum;
      const lhs2 = d * d;
      const rhs2 = c.sigmas * c.sigmas * (n * sumsq - sum * sum);
      if (lhs1 === rhs1 || (d > 0 && lhs2 === rhs2)) return 'tie';
      return lhs1 > rhs1 && d > 0 && lhs2 > rhs2;
    }
    case 'single':
      return true;
  }
}
