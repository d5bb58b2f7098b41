/**
 * A rule's runbook_url: http(s) only. It goes into every alert of the rule (alerts JSONL,
 * Alertmanager's runbook_url annotation, a link in Grafana and notifications), where a
 * `javascript:` or `data:` URL runs script for whoever clicks it.
 *
 * The check rules given to the engine in code go through (engine-rules.ts). Plain code, not a
 * zod schema: the engine is loaded where no rule file is read (`llmsec replay`'s engine thread,
 * given its rules as data), and zod alone was ~95 modules and ~80 ms of CPU to load there.
 * Rule files use runbookUrlSchema (runbook-url-schema.ts), zod's `z.url` with the same
 * protocol; test/runbook-url-same.test.ts holds the two to the same answers. As `z.url` does: the
 * value trimmed, `http://` or `https://` at its start (any case), then WHATWG URL parsing, and
 * the parsed protocol http or https.
 */
export function isRunbookUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const trimmed = value.trim();
  if (!/^https?:\/\//i.test(trimmed)) return false;
  const url = URL.parse(trimmed);
  return url !== null && /^https?:$/.test(url.protocol);
}
