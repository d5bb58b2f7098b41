// defaultRules() reads rules/default-rules.json, written from rules/default-rules.yaml (the file
// to edit) by `npm run rules:json`, so that the engine starts without the YAML parser and zod
// (default-rules.ts). The two must hold the same rules, and the JSON be what the script writes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultRulesJson } from '../../../scripts/default-rules-json.ts';
import { DEFAULT_RULES_PATH, defaultRules, parseRules } from '../src/index.ts';

const JSON_PATH = new URL('../rules/default-rules.json', import.meta.url);

describe('rules/default-rules.json', () => {
  it('holds the rules of default-rules.yaml (else run npm run rules:json)', async () => {
    const yaml = readFileSync(DEFAULT_RULES_PATH, 'utf8');
    expect(readFileSync(JSON_PATH, 'utf8'), 'out of date: npm run rules:json').toBe(
      await defaultRulesJson(yaml),
    );
    // Undefined-valued keys, a key order or a value JSON cannot carry would differ here.
    expect(defaultRules()).toStrictEqual(parseRules(yaml, 'default-rules.yaml'));
    expect(JSON.stringify(defaultRules())).toBe(JSON.stringify(parseRules(yaml, 'default-rules.yaml')));
  });

  it('gives a fresh copy each call', () => {
    const a = defaultRules();
    a[0]!.title = 'changed';
    expect(defaultRules()[0]!.title).not.toBe('changed');
  });
});
