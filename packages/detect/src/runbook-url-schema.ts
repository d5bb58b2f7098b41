import { z } from 'zod';

/**
 * A rule file's runbook_url (rule-schema.ts): http(s) only, as isRunbookUrl (runbook-url.ts)
 * checks the rules given to the engine in code, so both take the same URLs
 * (test/runbook-url-same.test.ts compares them).
 */
export const runbookUrlSchema = z.url({ protocol: /^https?$/, error: 'want an http(s):// URL' });
