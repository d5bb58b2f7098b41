import { z } from 'zod';

/**
 * A rule's runbook_url: http(s) only. It goes into every alert of the rule (alerts JSONL,
 * Alertmanager's runbook_url annotation, a link in Grafana and notifications), where a
 * `javascript:` or `data:` URL runs script for whoever clicks it. One schema for rule files
 * (rule-schema.ts) and rules given to the engine in code (engine-rules.ts), so both take the
 * same URLs.
 */
export const runbookUrlSchema = z.url({ protocol: /^https?$/, error: 'want an http(s):// URL' });
