// Rule files and rule-test files are UTF-8 (YAML or JSON). One saved as UTF-16 (PowerShell's `>`
// and `Out-File` write it, with a byte order mark) was read as UTF-8 and said nothing of its
// encoding: `want a list of rules, or an object with a "rules" list` for a correct rule file,
// `not valid YAML` for a test file. Now both name the encoding and the iconv line that converts
// it, as `llmsec replay` does for an events file (gzip-input.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulesFile } from '../src/index.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-rule-files-utf16-'));

const RULES = `rules:
  - id: many_blocks
    title: Many blocks
    severity: alert
    match: { categories: [guardrail_block] }
    window: 10m
    condition: { kind: count, min: 3 }
`;
const TESTS = `tests:
  - name: t
    events: [{ at: 0s, category: guardrail_block, user_id: u }]
    expected_alerts: []
`;

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
const utf16be = (text: string) => Buffer.from(utf16le(text)).swap16();
const utf32le = (text: string) => {
  const out = Buffer.alloc(4 + text.length * 4);
  out.writeUInt32LE(0xfeff, 0);
  for (let i = 0; i < text.length; i++) out.writeUInt32LE(text.charCodeAt(i), 4 + i * 4);
  return out;
};

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('a rule or rule-test file that is not UTF-8 is named as such', () => {
  it.each([
    ['UTF-16LE', utf16le, 'UTF-16'],
    ['UTF-16BE', utf16be, 'UTF-16'],
    ['UTF-32LE', utf32le, 'UTF-32'],
  ] as const)('%s rule file and test file', (name, encode, encoding) => {
    const rules = message(() => loadRulesFile(write(`rules-${name}.yaml`, encode(RULES))));
    expect(rules).toContain(`rules-${name}.yaml: the file is ${encoding}`);
    expect(rules).toContain(`iconv -f ${encoding} -t UTF-8`);
    const tests = message(() => loadRuleTestFile(write(`tests-${name}.yaml`, encode(TESTS))));
    expect(tests).toContain(`tests-${name}.yaml: the file is ${encoding}`);
  });

  it('the same files in UTF-8, with or without a byte order mark, load', () => {
    for (const bom of ['', '\ufeff']) {
      expect(loadRulesFile(write('rules-utf8.yaml', Buffer.from(bom + RULES)))).toHaveLength(1);
      expect(loadRuleTestFile(write('tests-utf8.yaml', Buffer.from(bom + TESTS))).tests).toHaveLength(1);
    }
  });
});
