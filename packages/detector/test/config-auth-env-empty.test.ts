// $LLMSEC_DETECTOR_AUTH_TOKEN (or ..._FILE) set but empty turned authentication off without a
// word: the start log said "auth":"none" and any peer could send records naming any user. The
// likely cause is a deployment that meant to pass a secret and passed nothing (compose's
// `${TOKEN}` with TOKEN unset is ""), so it is refused at start; unset means no token.
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, loadConfig } from '../src/service/config.ts';

const { file } = configDir('llmsec-detector-config-auth-env-');

describe('loadConfig: an auth token variable set but empty', () => {
  it('refuses LLMSEC_DETECTOR_AUTH_TOKEN or LLMSEC_DETECTOR_AUTH_TOKEN_FILE set to nothing', () => {
    for (const [name, value] of [
      [AUTH_TOKEN_ENV, ''],
      [AUTH_TOKEN_ENV, ' \n'],
      [AUTH_TOKEN_FILE_ENV, ''],
    ] as const) {
      expect(configError(() => loadConfig(undefined, {}, { [name]: value }))).toBe(
        `${name}: set but empty; unset it to run without a token`,
      );
    }
  });

  it('ignores them when the config or a flag gives the token, and takes no token when unset', () => {
    const token = file('token', 'from-file\n');
    expect(loadConfig(undefined, { authTokenFile: token }, { [AUTH_TOKEN_ENV]: '' }).otlp.auth_token).toBe(
      'from-file',
    );
    expect(
      loadConfig(file('c.yaml', 'otlp: { auth_token: inline }\n'), {}, { [AUTH_TOKEN_FILE_ENV]: '' }).otlp
        .auth_token,
    ).toBe('inline');
    expect(loadConfig(undefined, {}, {}).otlp.auth_token).toBeUndefined();
  });
});
