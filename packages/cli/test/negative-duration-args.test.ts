// `--allowed-lateness -5s` (a space, not '=') got node:util parseArgs' "argument is ambiguous /
// Did you forget to specify the option argument" where `--allowed-lateness=-5s` got the option's
// own message: a value that starts with a dash and a digit is now read as the option's value.
import { describe, expect, it } from 'vitest';
import { joinDashValues } from '../src/dash-values.ts';
import { cli } from './replay-io.ts';

describe('a negative option value written after a space', () => {
  it('llmsec replay says what is wrong with the duration, as for the = form', async () => {
    const spaced = await cli(['replay', '-', '--allowed-lateness', '-5s'], '');
    const joined = await cli(['replay', '-', '--allowed-lateness=-5s'], '');
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).not.toContain('ambiguous');
    expect(spaced.stderr).toContain('--allowed-lateness: bad duration "-5s"');
    expect(spaced.stderr).toBe(joined.stderr);
  });

  it('llmsec detector says what is wrong with it before starting anything', async () => {
    const r = await cli(['detector', '--allowed-lateness', '-5s', '--otlp-http', '127.0.0.1:0'], '');
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('ambiguous');
    expect(r.stderr).toMatch(/allowed.lateness.*-5s/);
  });

  it('joins only a dash and a digit after a long option; -- ends the options', () => {
    expect(joinDashValues(['--a', '-5s', '--b', '-x', '-.5', '--', '--c', '-1'])).toEqual([
      '--a=-5s',
      '--b',
      '-x',
      '-.5',
      '--',
      '--c',
      '-1',
    ]);
    expect(joinDashValues(['--a=1', '-2', '--max-line-bytes', '-1'])).toEqual([
      '--a=1',
      '-2',
      '--max-line-bytes=-1',
    ]);
  });
});
