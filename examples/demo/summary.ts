import type { Alert } from '@llmsec/core';
import type { PersonaStats } from '../simulator/driver.ts';
import type { Persona } from '../simulator/personas.ts';

export interface PersonaVerdict {
  persona: Persona;
  stats: PersonaStats;
  /** Rules that fired with one of this persona's users implicated. */
  rulesRaised: string[];
  /**
   * Attackers: every expected rule fired (or, for the flooder, it was refused). Benign: nothing
   * fired but its `notices` (alerts about what happened to it), and those did.
   */
  ok: boolean;
}

export interface DemoSummary {
  verdicts: PersonaVerdict[];
  attackersCaught: number;
  attackers: number;
  benignFlagged: string[];
}

/** Judges each persona by the alerts that name its users. */
export function summarise(
  personas: Persona[],
  stats: Map<string, PersonaStats>,
  alerts: Alert[],
): DemoSummary {
  const firing = alerts.filter((a) => a.status === 'firing');
  const verdicts = personas.map((persona) => {
    const users = new Set(persona.users);
    const rulesRaised = [
      ...new Set(firing.filter((a) => a.user_ids.some((u) => users.has(u))).map((a) => a.rule)),
    ].sort();
    const s = stats.get(persona.name) ?? { requests: 0, ok: 0, blocked: 0, rateLimited: 0, errors: 0 };
    const notices = persona.notices ?? [];
    const ok =
      persona.kind === 'benign'
        ? rulesRaised.every((r) => notices.includes(r)) && notices.every((r) => rulesRaised.includes(r))
        : persona.expectedRules.every((r) => rulesRaised.includes(r)) &&
          (!persona.expectRateLimited || s.rateLimited > 0);
    return { persona, stats: s, rulesRaised, ok };
  });
  const attackerVerdicts = verdicts.filter((v) => v.persona.kind === 'attacker');
  const benignFlagged = verdicts
    .filter((v) => v.persona.kind === 'benign' && !v.ok)
    .flatMap((v) => [
      ...firing
        .filter((a) => a.user_ids.some((u) => v.persona.users.includes(u)))
        .filter((a) => !(v.persona.notices ?? []).includes(a.rule))
        .map((a) => `${a.rule}: ${a.user_ids.join(',')}`),
      // A notice that did not fire is a miss of its own: say so rather than print "none".
      ...(v.persona.notices ?? [])
        .filter((r) => !v.rulesRaised.includes(r))
        .map((r) => `${r}: expected for ${v.persona.name}, not raised`),
    ]);
  return {
    verdicts,
    attackersCaught: attackerVerdicts.filter((v) => v.ok).length,
    attackers: attackerVerdicts.length,
    benignFlagged,
  };
}

export function formatSummary(summary: DemoSummary, replicas = 1): string {
  const header = ['persona', 'requests', 'ok', 'blocked', '429', 'alerts raised', 'verdict'];
  const rows = summary.verdicts.map((v) => [
    v.persona.name,
    String(v.stats.requests),
    String(v.stats.ok),
    String(v.stats.blocked),
    String(v.stats.rateLimited),
    v.rulesRaised.join(', ') || '-',
    v.persona.kind === 'benign' ? (v.ok ? 'not flagged' : 'FLAGGED') : v.ok ? 'caught' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  if (replicas > 1)
    out.push(`replicas: ${replicas} chat-API processes, each persona's requests round-robin over them`);
  out.push(`attackers caught: ${summary.attackersCaught} of ${summary.attackers}`);
  out.push(
    summary.benignFlagged.length === 0
      ? 'benign users flagged: none'
      : `benign users flagged: ${summary.benignFlagged.length} (${summary.benignFlagged.join('; ')})`,
  );
  return out.join('\n') + '\n';
}
