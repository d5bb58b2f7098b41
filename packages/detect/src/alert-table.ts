import type { Alert } from '@llmsec/core';

const COLUMNS = [
  'STATUS',
  'RULE',
  'SEVERITY',
  'GROUP',
  'STARTS_AT',
  'ENDS_AT',
  'USERS',
  'DESCRIPTION',
] as const;
const MAX_CELL = 60;
// Every C0 and C1 control character, newline and tab included: a cell is one line of a table.
// Also the bidirectional controls (U+061C, U+200E-F, U+202A-E, U+2066-9) and the line and
// paragraph separators (U+2028-9): they reorder or break what the terminal shows without
// being seen (CVE-2021-42574), so one user id could be made to read as another's.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * User ids, group values and descriptions come from the events as written: a control
 * character would act on the operator's terminal (clear it, retitle it) or start a fake row.
 * Written as \xNN, or \uNNNN past U+00FF.
 */
function printable(cell: string): string {
  return cell.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** Alerts as an aligned text table (one row per firing / resolved line), for terminals. */
export function formatAlertTable(alerts: readonly Alert[]): string {
  const rows = alerts.map((a) => [
    a.status,
    a.rule,
    a.severity,
    Object.entries(a.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    a.starts_at,
    a.ends_at ?? '',
    a.user_ids.length <= 3
      ? a.user_ids.join(',')
      : `${a.user_ids.slice(0, 3).join(',')} +${a.user_ids.length - 3}`,
    a.description,
  ]);
  const cells = [[...COLUMNS], ...rows].map((r) =>
    r.map(printable).map((c) => (c.length > MAX_CELL ? `${c.slice(0, MAX_CELL - 1)}…` : c)),
  );
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const lines = cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  if (rows.length === 0) lines.push('(no alerts)');
  return `${lines.join('\n')}\n`;
}
