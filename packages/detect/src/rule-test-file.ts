import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { yamlErrorMessage } from './yaml-error.ts';
import { yaml } from './yaml-lazy.ts';
import { z } from 'zod';
import {
  decodeEvent,
  decodeEventLine,
  DEFAULT_SEVERITY,
  formatTimestamp,
  isCategory,
  parseTimestamp,
  type DecodedEvent,
} from '@llmsec/core';
import { readFileCapped } from '@llmsec/core/internal';
import { parseDuration } from './duration.ts';
import { MAX_RULE_FILE_BYTES, readRuleFile, RuleFileError } from './rule-loader.ts';

/**
 * Rule unit-test files, in the spirit of `promtool test rules`: input events and the alerts
 * they must produce, in YAML. The format is documented in the package README.
 */

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `bad duration ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

/** A time: RFC 3339, or a duration after the test's start. */
const when = z.union([z.string(), z.number()]);

const eventObject = z.record(z.string(), z.unknown());

const expectedAlert = z.strictObject({
  rule: z.string(),
  status: z.enum(['firing', 'resolved']).optional(),
  severity: z.enum(['warning', 'alert', 'critical']).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  user_ids: z.array(z.string()).optional(),
  /** The alert's `across` field (cross_group rules across another field than user_id); values in any order. */
  across: z.record(z.string(), z.array(z.string())).optional(),
  starts_at: when.optional(),
  ends_at: when.optional(),
  evidence: z.array(z.string()).optional(),
  /** Matches when the alert's description contains this text. */
  description: z.string().optional(),
});
export type ExpectedAlert = z.infer<typeof expectedAlert>;

const series = z.strictObject({
  every: duration.optional(),
  count: z.number().int().positive().max(1_000_000),
  from: duration.optional(),
  event: eventObject,
});

const testCase = z.strictObject({
  name: z.string().min(1),
  events: z.array(eventObject).optional(),
  events_file: z.string().optional(),
  series: z.array(series).optional(),
  /**
   * `time` (default): every event, from all sources, is fed in event-time order (ties keep the
   * listed order). `listed`: series, then events, then events_file, as written: for lateness tests.
   */
  order: z.enum(['time', 'listed']).default('time'),
  /** Event time the test runs to (RFC 3339 or a duration after start): quiet periods ending by then resolve. */
  until: when.optional(),
  /** Compare only these rules' alerts (default: every alert must be expected). */
  only_rules: z.array(z.string()).optional(),
  expected_alerts: z.array(expectedAlert).default([]),
});

const testFile = z.strictObject({
  rule_files: z.array(z.string()).optional(),
  allowed_lateness: duration.optional(),
  /** Base time for `at` offsets and relative expectations. @default 2026-01-01T00:00:00Z */
  start: z.string().optional(),
  tests: z.array(testCase).min(1),
});

export interface RuleTestCase {
  name: string;
  events: DecodedEvent[];
  onlyRules: string[] | undefined;
  /** Event time to run to after the last event (epoch ms), if given. */
  untilMs: number | undefined;
  expected: ExpectedAlert[];
}

export interface RuleTestFile {
  fileName: string;
  /** Absolute paths of the rule files (empty: the built-in rules). */
  ruleFiles: string[];
  /**
   * The rule files as their errors name them: each `rule_files` entry joined to the test file's
   * path as given (absolute entries as they are). Their base names alone hid which file was meant.
   */
  ruleFileNames: string[];
  latenessMs: number | undefined;
  startMs: number;
  tests: RuleTestCase[];
}

export const DEFAULT_TEST_START = '2026-01-01T00:00:00Z';

/** Events all `series` of one test file may generate together (held in memory at once). */
export const MAX_SERIES_EVENTS_PER_FILE = 2_000_000;

/** Reads and validates a rule-test file; problems throw RuleFileError naming file, test and field. */

export function loadRuleTestFile(path: string): RuleTestFile {
  const fileName = basename(path);
  const text = readRuleFile(path);
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    throw new RuleFileError(`${fileName}: not valid YAML: ${yamlErrorMessage(err)}`);
  }
  // The schema would say 'field "": expected object, received null' for an empty file.
  if (doc === null || doc === undefined || typeof doc !== 'object' || Array.isArray(doc)) {
    const got =
      doc === null || doc === undefined ? 'an empty file' : Array.isArray(doc) ? 'a list' : `a ${typeof doc}`;
    throw new RuleFileError(`${fileName}: want a mapping with a "tests" list, got ${got}`);
  }
  const parsed = testFile.safeParse(doc);
  if (!parsed.success) {
    throw new RuleFileError(
      parsed.error.issues
        .map((i) => `${fileName}: field "${i.path.map(String).join('.')}": ${i.message}`)
        .join('\n'),
    );
  }
  const spec = parsed.data;
  const dir = dirname(path);
  const startText = spec.start ?? DEFAULT_TEST_START;
  const startMs = parseTimestamp(startText);
  if (Number.isNaN(startMs))
    throw new RuleFileError(`${fileName}: field "start": bad timestamp "${startText}"`);
  // Checked before any series is made: each may ask for 1,000,000, and a file of many was built
  // whole in memory (every test's events exist before the first runs) until the process died.
  let generated = 0;
  for (const t of spec.tests) {
    for (const s of t.series ?? []) {
      generated += s.count;
      if (generated > MAX_SERIES_EVENTS_PER_FILE) {
        throw new RuleFileError(
          `${fileName}: test "${t.name}": its series bring the file's series to more than ${MAX_SERIES_EVENTS_PER_FILE.toLocaleString('en-US')} events, the limit of one test file: split it`,
        );
      }
    }
  }
  const tests = spec.tests.map((t, ti): RuleTestCase => {
    const where = `${fileName}: test "${t.name}"`;
    const events: DecodedEvent[] = [];
    t.series?.forEach((s, si) => {
      const from = s.from ?? 0;
      for (let k = 0; k < s.count; k++) {
        const raw = { ...s.event, at: from + k * (s.every ?? 0) };
        events.push(toEvent(raw, `${ti + 1}-s${si + 1}-${k + 1}`, startMs, `${where}: series[${si}]`));
      }
    });
    t.events?.forEach((raw, i) =>
      events.push(toEvent(raw, `${ti + 1}-${i + 1}`, startMs, `${where}: events[${i}]`)),
    );
    if (t.events_file !== undefined)
      events.push(...readEventsFile(resolve(dir, t.events_file), t.events_file, where));
    // Array.prototype.sort is stable, so equal times keep the listed order.
    if (t.order === 'time') events.sort((a, b) => a.timeMs - b.timeMs);
    for (const [i, e] of t.expected_alerts.entries()) {
      for (const key of ['starts_at', 'ends_at'] as const) {
        const v = e[key];
        if (v !== undefined && Number.isNaN(resolveTime(v, startMs))) {
          throw new RuleFileError(
            `${where}: expected_alerts[${i}]: field "${key}": bad time ${JSON.stringify(v)}`,
          );
        }
      }
    }
    const untilMs = t.until !== undefined ? resolveTime(t.until, startMs) : undefined;
    if (untilMs !== undefined && Number.isNaN(untilMs))
      throw new RuleFileError(`${where}: field "until": bad time ${JSON.stringify(t.until)}`);
    return { name: t.name, events, onlyRules: t.only_rules, untilMs, expected: t.expected_alerts };
  });
  return {
    fileName,
    ruleFiles: (spec.rule_files ?? []).map((f) => resolve(dir, f)),
    ruleFileNames: (spec.rule_files ?? []).map((f) => (isAbsolute(f) ? f : join(dir, f))),
    latenessMs: spec.allowed_lateness,
    startMs,
    tests,
  };
}

// The last time an event's timestamp can say (RFC 3339 has four-digit years). An offset from
// `start` past it is a mistake in the file; past the Date range it threw a bare RangeError.
const LAST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const LAST_TIME = '9999-12-31T23:59:59.999Z';

/** An RFC 3339 time, or a duration after `startMs`. NaN when neither, or past 9999. */
export function resolveTime(value: string | number, startMs: number): number {
  if (typeof value === 'string') {
    const t = parseTimestamp(value);
    if (!Number.isNaN(t)) return t;
  }
  const d = parseDuration(value);
  return Number.isNaN(d) || startMs + d > LAST_TIME_MS ? Number.NaN : startMs + d;
}

/** Fills the conveniences (at, default id and severity) and validates as events.md demands. */
function toEvent(raw: Record<string, unknown>, id: string, startMs: number, where: string): DecodedEvent {
  const { at, ...rest } = raw;
  // One of the two would be ignored (a series always sets `at`), and a test would not say
  // what it seems to: a bad or different timestamp passed unnoticed.
  if (at !== undefined && rest.timestamp !== undefined)
    throw new RuleFileError(`${where}: give "at" or "timestamp", not both`);
  const event: Record<string, unknown> = { event_id: id, ...rest };
  if (at !== undefined) {
    const ms = parseDuration(at as string | number);
    if (Number.isNaN(ms)) throw new RuleFileError(`${where}: field "at": bad duration ${JSON.stringify(at)}`);
    if (startMs + ms > LAST_TIME_MS) {
      throw new RuleFileError(`${where}: field "at": ${JSON.stringify(at)} after start is past ${LAST_TIME}`);
    }
    event.timestamp = formatTimestamp(startMs + ms);
  }
  if (event.severity === undefined) {
    // The README lets a test leave severity out; core would then say it is missing, when the
    // mistake is more likely the category (a typo) that has no default.
    if (event.category !== undefined && !isCategory(event.category)) {
      throw new RuleFileError(
        `${where}: field "category": ${JSON.stringify(event.category)} is no llmsec category, so it has no default severity (give severity: warning, alert or critical)`,
      );
    }
    if (isCategory(event.category)) event.severity = DEFAULT_SEVERITY[event.category];
  }
  try {
    return decodeEvent(event);
  } catch (err) {
    throw new RuleFileError(`${where}: ${(err as Error).message}`);
  }
}

/** `given`: the entry as the test file writes it, which names the file in a line's error. */
function readEventsFile(path: string, given: string, where: string): DecodedEvent[] {
  let text: string;
  try {
    // Capped as the test file itself: `events_file: /dev/zero` (or a week's log) was read whole,
    // 2 GB of resident memory in 30 s before anything was said.
    text = readFileCapped(path, MAX_RULE_FILE_BYTES);
  } catch (err) {
    throw new RuleFileError(`${where}: events_file: cannot read: ${(err as Error).message}`);
  }
  const out: DecodedEvent[] = [];
  // A byte order mark (Windows editors) is not part of the first line (core's LineSplitter drops it too).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text.split('\n').forEach((line, i) => {
    if (line.trim().length === 0) return;
    try {
      out.push(decodeEventLine(line));
    } catch (err) {
      // The entry as written, not its base name: two events files of one name in different
      // folders (fixtures/a/events.jsonl, fixtures/b/events.jsonl) were told apart by nothing.
      throw new RuleFileError(`${where}: events_file ${given}: line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}
