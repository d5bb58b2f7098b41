import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { encodeAlert, type Alert } from '@llmsec/core';
import { DetectionEngine, loadRulesFile, parseDuration, RuleFileError } from '@llmsec/detect';
import { decodeEventLineFast, forEachLine, formatAlertTable } from '@llmsec/detect/replay';
import { UsageError, type CliIO, type Command } from '../io.ts';

const USAGE = `usage: llmsec replay [FILE|-] [--rules FILE] [--format jsonl|table] [--allowed-lateness DURATION]

Runs the detection rules over security-event JSONL (shared/formats/events.md) in event time,
as if the events were happening now, and prints the alerts: one line per firing and one per
resolve (alert JSONL), or a table. A summary goes to stderr. Use it to backtest thresholds on
weeks of logs before enabling a rule.

  FILE                     events JSONL; "-" or nothing reads stdin
  --rules FILE             rule file (YAML or JSON); default: the built-in rules
  --format jsonl|table     output format (default: jsonl)
  --allowed-lateness DUR   how far out of order events may come (default: 5s); later ones are
                           dropped and counted

Malformed lines are reported on stderr as "line N: reason" and skipped. At the end of input,
incidents whose quiet period has passed by the last event time resolve; the others are still
firing and are counted in the summary.`;

interface ReplayArgs {
  file: string | undefined;
  rules: string | undefined;
  format: 'jsonl' | 'table';
  latenessMs: number | undefined;
}

function parse(argv: string[]): ReplayArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        rules: { type: 'string' },
        format: { type: 'string', default: 'jsonl' },
        'allowed-lateness': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`one input file at most\n\n${USAGE}`);
  if (values.format !== 'jsonl' && values.format !== 'table') {
    throw new UsageError(`--format must be jsonl or table, got "${values.format}"`);
  }
  let latenessMs: number | undefined;
  if (values['allowed-lateness'] !== undefined) {
    latenessMs = parseDuration(values['allowed-lateness']);
    if (Number.isNaN(latenessMs))
      throw new UsageError(`--allowed-lateness: bad duration "${values['allowed-lateness']}"`);
  }
  const file = positionals[0];
  return { file: file === '-' ? undefined : file, rules: values.rules, format: values.format, latenessMs };
}

/** Batches stdout writes: one write per alert would dominate a replay that alerts a lot. */
class OutBuffer {
  private parts: string[] = [];
  private bytes = 0;
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.out = out;
  }

  write(text: string): void {
    this.parts.push(text);
    this.bytes += text.length;
    if (this.bytes >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.out.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }
}

export const command: Command = {
  summary: 'backtest detection rules on security-event JSONL; prints alerts',
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parse(argv);
    if (args === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    let rules;
    try {
      rules = args.rules !== undefined ? loadRulesFile(args.rules) : undefined;
    } catch (err) {
      if (err instanceof RuleFileError) {
        io.stderr.write(`llmsec replay: ${err.message}\n`);
        return 2;
      }
      throw err;
    }

    const out = new OutBuffer(io.stdout);
    const tableRows: Alert[] = [];
    const byRule = new Map<string, { firing: number; resolved: number }>();
    const engine = new DetectionEngine({
      ...(rules !== undefined ? { rules } : {}),
      ...(args.latenessMs !== undefined ? { allowedLatenessMs: args.latenessMs } : {}),
      onAlert: (alert) => {
        const counts = byRule.get(alert.rule) ?? { firing: 0, resolved: 0 };
        counts[alert.status]++;
        byRule.set(alert.rule, counts);
        if (args.format === 'jsonl') out.write(`${encodeAlert(alert)}\n`);
        else tableRows.push(alert);
      },
    });

    // 1 MiB reads: the default 64 KiB costs a stream round trip per ~200 lines.
    const input: Readable =
      args.file !== undefined ? createReadStream(args.file, { highWaterMark: 1 << 20 }) : io.stdin;
    const started = performance.now();
    const cpuStart = process.threadCpuUsage();
    let lines = 0;
    let events = 0;
    let malformed = 0;
    const onLine = (line: string): void => {
      lines++;
      if (line.length === 0) return;
      const first = line.charCodeAt(0);
      if ((first === 32 || first === 9) && line.trim().length === 0) return;
      try {
        const { event, timeMs } = decodeEventLineFast(line);
        events++;
        engine.ingest(event, timeMs);
      } catch (err) {
        malformed++;
        io.stderr.write(`line ${lines}: ${(err as Error).message}\n`);
      }
    };
    try {
      await forEachLine(input, onLine);
    } catch (err) {
      io.stderr.write(`llmsec replay: cannot read ${args.file ?? 'stdin'}: ${(err as Error).message}\n`);
      return 1;
    }
    engine.flush();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.threadCpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;

    if (args.format === 'table') out.write(formatAlertTable(tableRows));
    out.flush();

    const stats = engine.stats;
    const open = engine.activeIncidents().length;
    const summary = [
      `llmsec replay: ${lines} lines, ${events} events, ${malformed} malformed, ${stats.droppedLate} late (dropped), ` +
        `${stats.droppedInvalid} without a usable time; ${seconds.toFixed(2)} s (${Math.round(lines / Math.max(seconds, 1e-9))} lines/s), ` +
        `${cpuSeconds.toFixed(2)} s CPU on the main thread (${Math.round(lines / Math.max(cpuSeconds, 1e-9))} lines per CPU second)`,
      `alerts: ${stats.alertsFired} firing, ${stats.alertsResolved} resolved, ${open} still firing at end of input`,
    ];
    for (const [rule, c] of [...byRule].sort((a, b) => a[0].localeCompare(b[0]))) {
      summary.push(
        `  ${rule.padEnd(28)} firing ${String(c.firing).padStart(6)}   resolved ${String(c.resolved).padStart(6)}`,
      );
    }
    io.stderr.write(`${summary.join('\n')}\n`);
    return 0;
  },
};
