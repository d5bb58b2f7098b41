import type { Alert } from '@llmsec/core';
import { defaultRules } from './default-rules.ts';
import { DetectionEngine } from './engine.ts';
import { categoryTypoWarnings } from './category-typo.ts';
import { loadRulesFile, RuleFileError } from './rule-loader.ts';
import { loadRuleTestFile, resolveTime, type ExpectedAlert, type RuleTestFile } from './rule-test-file.ts';
import type { RuleDefinition } from './types.ts';

export interface RuleTestResult {
  name: string;
  passed: boolean;
  /** Expected alerts that no produced alert matched. */
  missing: ExpectedAlert[];
  /** Produced alerts that no expectation matched (projected for display). */
  unexpected: Record<string, unknown>[];
  /** Every alert the test produced (firing and resolved lines, in order). */
  alerts: Alert[];
}

/**
 * Runs every test of a rule-test file: each test gets a fresh engine, its events in the given
 * order, then end of input (flush). Each expected alert must match one produced alert (only
 * the fields it names are compared), and every produced alert must be expected, unless the
 * test restricts the comparison with `only_rules`. Throws RuleFileError for a bad file;
 * `onWarning` gets each rule file's likely category typos (categoryTypoWarnings).
 */
export function runRuleTestFile(
  path: string,
  options: { onWarning?: (message: string) => void } = {},
): RuleTestResult[] {
  const file = loadRuleTestFile(path);
  const rules =
    file.ruleFiles.length > 0
      ? file.ruleFiles.flatMap((f, i) => {
          const loaded = loadRulesFile(f, file.ruleFileNames[i]);
          // A likely typo of a category (guardrail_blok) is valid but never fires: said, not refused.
          for (const w of categoryTypoWarnings(loaded, file.ruleFileNames[i])) options.onWarning?.(w);
          return loaded;
        })
      : undefined;
  // No rules: every test expecting no alert would pass (replay --rules and the detector refuse
  // such a file too).
  if (rules?.length === 0) {
    throw new RuleFileError(`${file.fileName}: rule_files: no rules in ${file.ruleFileNames.join(', ')}`);
  }
  checkOnlyRules(file, new Set((rules ?? defaultRules()).map((r) => r.id)));
  return file.tests.map((t) => runOne(file, t, rules));
}

/**
 * `only_rules` compares only the alerts of the rules it names: a name that is no rule under
 * test (a typo, a rule renamed) would compare nothing, and the test would pass whatever fired.
 * Checked before any test runs, like the file's other mistakes.
 */
function checkOnlyRules(file: RuleTestFile, ids: ReadonlySet<string>): void {
  for (const t of file.tests) {
    const unknown = t.onlyRules?.find((id) => !ids.has(id));
    if (unknown !== undefined) {
      throw new RuleFileError(
        `${file.fileName}: test "${t.name}": only_rules: no rule "${unknown}" among the rules under test`,
      );
    }
  }
}

function runOne(
  file: RuleTestFile,
  test: RuleTestFile['tests'][number],
  rules: RuleDefinition[] | undefined,
): RuleTestResult {
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({
    ...(rules !== undefined ? { rules: structuredClone(rules) } : {}),
    ...(file.latenessMs !== undefined ? { allowedLatenessMs: file.latenessMs } : {}),
    onAlert: (a) => alerts.push(a),
  });
  // Each event id once per group, as llmsec replay and the detector take a log holding an event
  // twice (ingestOnce): the same file gives the same alerts under test as in replay.
  for (const { event, timeMs } of test.events) engine.ingestOnce(event, timeMs);
  if (test.untilMs !== undefined) engine.advanceTo(test.untilMs);
  engine.flush();

  const compared = test.onlyRules ? alerts.filter((a) => test.onlyRules!.includes(a.rule)) : alerts;
  const used = new Array<boolean>(compared.length).fill(false);
  const missing: ExpectedAlert[] = [];
  for (const exp of test.expected) {
    const i = compared.findIndex((a, k) => !used[k] && matches(a, exp, file.startMs));
    if (i === -1) missing.push(exp);
    else used[i] = true;
  }
  const unexpected = compared.filter((_, k) => !used[k]).map(project);
  return {
    name: test.name,
    passed: missing.length === 0 && unexpected.length === 0,
    missing,
    unexpected,
    alerts,
  };
}

function matches(a: Alert, e: ExpectedAlert, startMs: number): boolean {
  if (a.rule !== e.rule) return false;
  if (e.status !== undefined && a.status !== e.status) return false;
  if (e.severity !== undefined && a.severity !== e.severity) return false;
  if (e.labels !== undefined && !sameJson(sortKeys(a.labels), sortKeys(e.labels))) return false;
  if (e.user_ids !== undefined && !sameJson([...a.user_ids].sort(), [...e.user_ids].sort())) return false;
  if (e.across !== undefined && !sameJson(sortedAcross(a.across ?? {}), sortedAcross(e.across))) return false;
  if (e.evidence !== undefined && !sameJson(a.evidence, e.evidence)) return false;
  if (e.description !== undefined && !a.description.includes(e.description)) return false;
  if (e.starts_at !== undefined && Date.parse(a.starts_at) !== resolveTime(e.starts_at, startMs))
    return false;
  if (
    e.ends_at !== undefined &&
    (a.ends_at === undefined || Date.parse(a.ends_at) !== resolveTime(e.ends_at, startMs))
  )
    return false;
  return true;
}

/** What a diff line shows of a produced alert. */
function project(a: Alert): Record<string, unknown> {
  const out: Record<string, unknown> = {
    rule: a.rule,
    status: a.status,
    labels: a.labels,
    user_ids: a.user_ids,
    starts_at: a.starts_at,
  };
  if (a.across !== undefined) out.across = a.across;
  if (a.ends_at !== undefined) out.ends_at = a.ends_at;
  return out;
}

/** An `across` field with its keys and each list sorted, to compare as sets. */
function sortedAcross(o: Record<string, string[]>): [string, string[]][] {
  return Object.keys(o)
    .sort()
    .map((k) => [k, [...o[k]!].sort()]);
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** PASS/FAIL per test, with a diff (- missing, + unexpected) under each failure, and a total. */
export function formatRuleTestResults(fileName: string, results: RuleTestResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.passed ? 'PASS' : 'FAIL'}  ${r.name}`);
    if (r.passed) continue;
    for (const m of r.missing) lines.push(`  - expected, not produced: ${JSON.stringify(m)}`);
    for (const u of r.unexpected) lines.push(`  + produced, not expected: ${JSON.stringify(u)}`);
  }
  const failed = results.filter((r) => !r.passed).length;
  lines.push(`${fileName}: ${results.length} tests, ${results.length - failed} passed, ${failed} failed`);
  return `${lines.join('\n')}\n`;
}
