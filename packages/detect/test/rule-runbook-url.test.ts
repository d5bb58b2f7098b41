// A rule's runbook_url goes into every alert (the alerts JSONL, Alertmanager's runbook_url
// annotation, which Grafana and notification templates render as a link). Any URL loaded,
// `javascript:alert(document.cookie)` and `data:text/html,...` too: a link that runs script
// in the browser of whoever clicks it on an alert. Only http(s) is taken now, from a rule file
// and from a rule given to DetectionEngine in code (RuleDefinition or CodeRule), which skipped
// the file's check.
import { describe, expect, it } from 'vitest';
import {
  DetectionEngine,
  parseRules,
  RuleFileError,
  type CodeRule,
  type RuleDefinition,
} from '../src/index.ts';

const rule = (url: string) =>
  JSON.stringify([
    {
      id: 'r',
      title: 'T',
      severity: 'alert',
      match: { categories: ['guardrail_block'] },
      window: '1m',
      runbook_url: url,
      condition: { kind: 'count', min: 2 },
    },
  ]);

describe('runbook_url', () => {
  it('refuses a URL that is not http(s), naming the field', () => {
    for (const url of [
      'javascript:alert(document.cookie)',
      'data:text/html,<script>x</script>',
      'file:///etc/passwd',
    ]) {
      let err: unknown;
      try {
        parseRules(rule(url), 'rules.yaml');
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(RuleFileError);
      expect((err as Error).message).toBe(
        'rules.yaml: rule "r": field "runbook_url": want an http(s):// URL',
      );
    }
  });

  it('takes http and https', () => {
    for (const url of ['https://runbooks.example/r', 'http://wiki.internal:8080/llmsec/r#step-2']) {
      expect(parseRules(rule(url), 'rules.yaml')[0]!.runbook_url).toBe(url);
    }
  });
});

describe('runbook_url of a rule given to DetectionEngine in code', () => {
  const definition = (url: unknown): RuleDefinition => ({
    id: 'r',
    title: 'T',
    severity: 'alert',
    match: { categories: ['guardrail_block'] },
    group_by: 'user_id',
    window_ms: 60_000,
    runbook_url: url as string,
    condition: { kind: 'count', min: 2 },
  });
  const codeRule = (url: string): CodeRule => ({
    id: 'c',
    title: 'T',
    severity: 'alert',
    categories: ['guardrail_block'],
    window_ms: 60_000,
    runbook_url: url,
    condition: { createState: () => 0, update: () => false, describe: () => '' },
  });

  it('refuses a URL that is not http(s), naming the rule', () => {
    for (const url of [
      'javascript:alert(document.cookie)',
      'data:text/html,<script>x</script>',
      'file:///etc/passwd',
      'not a url',
      '',
    ]) {
      expect(() => new DetectionEngine({ rules: [definition(url)] }), url).toThrow(
        'DetectionEngine: rule "r": runbook_url must be an http(s):// URL',
      );
      expect(() => new DetectionEngine({ rules: [codeRule(url)] }), url).toThrow(
        'DetectionEngine: rule "c": runbook_url must be an http(s):// URL',
      );
    }
    // A JavaScript caller is not held to the type.
    expect(() => new DetectionEngine({ rules: [definition(42)] })).toThrow(
      'runbook_url must be an http(s):// URL',
    );
  });

  it('takes what a rule file takes, and no runbook_url', async () => {
    for (const url of [
      'https://runbooks.example/r',
      'http://wiki.internal:8080/llmsec/r#step-2',
      undefined,
    ]) {
      const engine = new DetectionEngine({ rules: [definition(url), codeRule(url ?? 'https://x.example/')] });
      expect(engine.rules.map((r) => r.id)).toEqual(['r', 'c']);
      await engine.shutdown();
    }
  });
});
