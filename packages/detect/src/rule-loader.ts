import { basename } from 'node:path';
import { readFileCapped } from '@llmsec/core/internal';
import { yamlErrorMessage } from './yaml-error.ts';
import { yaml } from './yaml-lazy.ts';
import type { z } from 'zod';
import { ruleSchema } from './rule-schema.ts';
import type { RuleDefinition } from './types.ts';

/** A rule file that cannot be used; the message names the file, the rule and the field. */
export class RuleFileError extends Error {
  override readonly name = 'RuleFileError';
}

/**
 * Parses a rule file's text: YAML or JSON (JSON is YAML), either a list of rules or an object
 * with a `rules` list. Every problem is reported, one per line, as
 * `rules.yaml: rule "x": field "window": bad duration "ten"`.
 */
export function parseRules(text: string, fileName = 'rules'): RuleDefinition[] {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (err) {
    throw new RuleFileError(`${fileName}: not valid YAML or JSON: ${yamlErrorMessage(err)}`);
  }
  const list = Array.isArray(doc) ? doc : isObject(doc) ? doc.rules : undefined;
  if (!Array.isArray(list)) {
    throw new RuleFileError(`${fileName}: want a list of rules, or an object with a "rules" list`);
  }
  const problems: string[] = [];
  const rules: RuleDefinition[] = [];
  const seen = new Set<string>();
  list.forEach((item: unknown, i) => {
    const name = isObject(item) && typeof item.id === 'string' ? `rule "${item.id}"` : `rule #${i + 1}`;
    const result = ruleSchema.safeParse(item);
    if (!result.success) {
      for (const issue of result.error.issues)
        problems.push(`${fileName}: ${name}: ${describeIssue(issue, item)}`);
      return;
    }
    const rule = result.data as RuleDefinition;
    if (seen.has(rule.id)) problems.push(`${fileName}: ${name}: duplicate rule id`);
    seen.add(rule.id);
    const c = rule.condition;
    if (c.kind === 'cross_group' && rule.group_by === c.across) {
      problems.push(`${fileName}: ${name}: field "condition.across": must differ from group_by`);
    }
    rules.push(rule);
  });
  if (problems.length > 0) throw new RuleFileError(problems.join('\n'));
  return rules;
}

/**
 * Largest rule or rule-test file read (the built-in rules are 19 KB). The bytes read are
 * counted: `--rules /dev/zero` grew the process to 22 GB before the kernel killed it.
 */
export const MAX_RULE_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads and parses a rule file; errors name the file `name`, by default its base name. A
 * command given the path by its user passes that path: `--rules /dev/null` said `null: ...`.
 */
export function loadRulesFile(path: string, name = basename(path)): RuleDefinition[] {
  return parseRules(readRuleFile(path, name), name);
}

/**
 * A rule or rule-test file's text, read up to MAX_RULE_FILE_BYTES as UTF-8. One saved as
 * UTF-16 or UTF-32 (PowerShell's `>` and `Out-File` write UTF-16 with a byte order mark) is
 * refused naming its encoding, as `llmsec replay` refuses such an events file (gzip-input.ts):
 * read as UTF-8 it said only that it held no rules, or was not YAML.
 */
export function readRuleFile(path: string, name = basename(path)): string {
  let text: string;
  try {
    text = readFileCapped(path, MAX_RULE_FILE_BYTES);
  } catch (err) {
    throw new RuleFileError(`${name}: cannot read: ${(err as Error).message}`);
  }
  const encoding = wideEncoding(text);
  if (encoding !== undefined)
    throw new RuleFileError(
      `${name}: the file is ${encoding} (byte order mark), and rule files are UTF-8: convert it first, e.g. iconv -f ${encoding} -t UTF-8`,
    );
  return text;
}

/**
 * UTF-16's and UTF-32's byte order marks (FF FE, FE FF; FF FE 00 00, 00 00 FE FF) read as UTF-8
 * are two U+FFFD, with NULs beside them for UTF-32 and between the letters of either (YAML
 * allows no NUL, so no UTF-8 rule file has one).
 */
function wideEncoding(text: string): 'UTF-16' | 'UTF-32' | undefined {
  if (text.startsWith('\u0000\u0000\ufffd\ufffd') || text.startsWith('\ufffd\ufffd\u0000\u0000'))
    return 'UTF-32';
  if (text.startsWith('\ufffd\ufffd') && text.includes('\u0000')) return 'UTF-16';
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, item: unknown): string {
  if (issue.path.length === 0) return issue.message;
  const where = `field "${issue.path.map(String).join('.')}"`;
  // zod words a missing field as a wrong type ("Invalid input: expected string, received
  // undefined", or only "Invalid input" for a duration): say it is required, keeping the
  // choices of an enum or a condition's kind.
  if (valueAt(item, issue.path) === undefined) {
    const plain = issue.code === 'invalid_type' || issue.message === 'Invalid input';
    return plain ? `${where}: required` : `${where}: required: ${issue.message}`;
  }
  return `${where}: ${issue.message}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
