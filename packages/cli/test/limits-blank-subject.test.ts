// `llmsec limits ACTION ""` (an unset variable in `ban "$USER_ID"`) said "expected exactly one
// SUBJECT", as if an argument were missing or extra: it says the one given is empty or blank.
// A usage error, refused before Redis is asked (the URL here has nothing listening).
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

const REDIS = ['--redis', 'redis://127.0.0.1:1'];

describe('llmsec limits with a blank SUBJECT', () => {
  for (const action of ['show', 'reset', 'lift', 'ban']) {
    it(`${action} says the subject is empty or blank`, async () => {
      const empty = await cli(['limits', action, '', ...REDIS]);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toBe('llmsec limits: SUBJECT is empty: name a user id or ip:ADDRESS\n');
      const blank = await cli(['limits', action, ' \t\n', ...REDIS]);
      expect(blank.code).toBe(2);
      expect(blank.stderr).toBe(
        'llmsec limits: SUBJECT is blank (only white space): name a user id or ip:ADDRESS\n',
      );
      // A missing or extra SUBJECT is still a count error.
      for (const argv of [
        ['limits', action, ...REDIS],
        ['limits', action, 'a', 'b', ...REDIS],
      ]) {
        const r = await cli(argv);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^llmsec limits: expected exactly one SUBJECT\n/);
      }
    });
  }
});
