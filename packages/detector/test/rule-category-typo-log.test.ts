// A rule file whose category is a likely typo of a built-in one (guardrail_blok) is accepted,
// as custom categories are, but `llmsec detector` says so in its log at start, naming the rule,
// the category and the built-in one, and starts all the same.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDetectorProcess, tempDir, writeConfig } from './process-support.ts';

describe('llmsec detector with a likely category typo', () => {
  it('logs a warning naming the rule, the category and the built-in one, and starts', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'rules.yaml'),
      `rules:
  - id: blocks_typo
    title: t
    severity: alert
    match: { categories: [guardrail_blok] }
    window: 5m
    condition: { kind: count, min: 3 }
  - id: own_category
    title: t
    severity: alert
    match: { categories: [billing_dispute] }
    window: 5m
    condition: { kind: count, min: 3 }
`,
    );
    const cfg = writeConfig(dir, 'c.json', {
      otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
      rules: 'rules.yaml',
    });
    const detector = await startDetectorProcess(cfg); // killed when the test ends
    const warnings = detector
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"level":"warn"') && l.includes('llmsec detect: rule'))
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(warnings).toEqual([
      'llmsec detect: rule "blocks_typo": category "guardrail_blok" is not built in; did you mean "guardrail_block"? ' +
        'As written the rule reads no event the SDK records (a custom category is fine; only names within 2 edits ' +
        'of a built-in one are warned about)',
    ]);
  });
});
