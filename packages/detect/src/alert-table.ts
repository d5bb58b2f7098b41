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
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * User ids, group values and descriptions come from the events as written: a control
 * character would act on the operator's terminal (clear it, retitle it) or start a fake row.
 */
function printable(cell: string): string {
  return cell.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
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
