// A rule's runbook_url goes into every alert (the alerts JSONL, Alertmanager's runbook_url
// annotation, which Grafana and notification templates render as a link). Any URL loaded,
// `javascript:alert(document.cookie)` and `data:text/html,...` too: a link that runs script
// in the browser of whoever clicks it on an alert. Only http(s) is taken now.
import { describe, expect, it } from 'vitest';
import { parseRules, RuleFileError } from '../src/index.ts';

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
