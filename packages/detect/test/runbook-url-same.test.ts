// The engine checks a code rule's runbook_url with isRunbookUrl (plain code: the engine is
// loaded where zod is not, llmsec replay's engine thread); a rule file's goes through zod's
// z.url (runbook-url-schema.ts). Both must take and refuse the same URLs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRunbookUrl } from '../src/runbook-url.ts';
import { runbookUrlSchema } from '../src/runbook-url-schema.ts';

const zodTakes = (value: unknown): boolean => runbookUrlSchema.safeParse(value).success;

describe('isRunbookUrl and the rule file schema', () => {
  it('agree on chosen cases', () => {
    for (const value of [
      'https://runbooks.example/r',
      'http://wiki.internal:8080/llmsec/r#step-2',
      '  https://x.example/a  ',
      'HTTPS://X.EXAMPLE/',
      'HtTp://x',
      'https:/x.example',
      'http:x.example',
      'https://',
      'https://[::1]:99/',
      'https://exa\nmple.com/',
      '\thttps://x.example/\n',
      'https:// x.example',
      'https://x y.example',
      'ftp://x.example',
      'javascript:alert(document.cookie)',
      'data:text/html,<script>x</script>',
      'file:///etc/passwd',
      'mailto:a@b.example',
      '',
      ' ',
      'runbooks.example/r',
      '//x.example/r',
      'https://%zz',
      'https://a:b@x.example/',
      'https://x.example:65536/',
      'https://\u00e9.example/',
      '\u00a0https://x.example/',
      '\u2028https://x.example/',
      1,
      undefined,
      null,
      {},
    ]) {
      expect(isRunbookUrl(value), JSON.stringify(value)).toBe(zodTakes(value));
    }
  });

  it('agree on generated strings', () => {
    const piece = fc.constantFrom(
      'http',
      'https',
      'HTTP',
      'ftp',
      'javascript',
      ':',
      '//',
      '/',
      ' ',
      '\t',
      '\n',
      '@',
      '[',
      ']',
      '%',
      '?',
      '#',
      'x.example',
      '::1',
      '80',
      '99999',
      '\u00a0',
      '\u3000',
      'é',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 4 })), { maxLength: 10 }), (parts) => {
        const value = parts.join('');
        expect(isRunbookUrl(value), JSON.stringify(value)).toBe(zodTakes(value));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.webUrl({ withFragments: true, withQueryParameters: true }), (url) => {
        expect(isRunbookUrl(url)).toBe(zodTakes(url));
        expect(isRunbookUrl(url)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
