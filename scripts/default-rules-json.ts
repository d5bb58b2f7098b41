/**
 * Writes packages/detect/rules/default-rules.json, the built-in rules as the engine takes them,
 * from packages/detect/rules/default-rules.yaml, the file to edit: parsed and validated by the
 * rule loader (YAML, the zod schema, durations to milliseconds), then written as JSON.
 *
 *   npm run rules:json          after editing default-rules.yaml
 *   packages/detect/test/default-rules-json.test.ts fails while the JSON is out of date
 *
 * Why a second file: `defaultRules()` reads the JSON, so the engine starts without loading the
 * YAML parser and zod (~170 modules, ~110 ms of CPU, ~55 ms more to parse and validate the
 * file): every `llmsec replay` and detector start-up paid that for rules that never change
 * after release.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { parseRules } from '../packages/detect/src/rule-loader.ts';

const YAML = new URL('../packages/detect/rules/default-rules.yaml', import.meta.url);
const JSON_FILE = new URL('../packages/detect/rules/default-rules.json', import.meta.url);

/** The JSON text for the rules of `yamlText`, formatted as `npm run format` would. */
export async function defaultRulesJson(yamlText: string): Promise<string> {
  const text = JSON.stringify(parseRules(yamlText, 'default-rules.yaml'));
  const path = fileURLToPath(JSON_FILE);
  return format(text, { ...(await resolveConfig(path)), filepath: path });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(JSON_FILE, await defaultRulesJson(readFileSync(YAML, 'utf8')));
  console.log(`wrote ${fileURLToPath(JSON_FILE)}`);
}
