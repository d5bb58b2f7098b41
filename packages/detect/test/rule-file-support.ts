// What the rule-file and rule-test-file tests share: the error a loader throws, and a rule file
// of one counting rule with extra lines where a test varies it.
import { parseRules } from '../src/index.ts';

/** The error `load` throws; fails the test (naming `what`) when it loads instead. */
export function thrownBy(what: string, load: () => unknown): Error {
  try {
    load();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${what} to be refused`);
}

/** A rules file of one count rule `r` on guardrail blocks; `extra` goes before its condition (indented 4). */
export const oneRule = (extra: string): string => `rules:
  - id: r
    title: T
    severity: alert
    match: { categories: [guardrail_block] }
${extra}    condition: { kind: count, min: 3 }
`;

/** The error parsing `text` as rules.yaml throws. */
export const ruleFileError = (text: string): Error =>
  thrownBy('the rules', () => parseRules(text, 'rules.yaml'));
