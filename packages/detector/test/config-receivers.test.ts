// The receivers' options in the config file: caps, decode limits and the bearer token, which
// may come inline, from a file (--auth-token-file), or from the environment.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, loadConfig } from '../src/service/config.ts';

const { dir, file } = configDir('llmsec-detector-config-receivers-');
const error = configError;

const NO_ENV = {};

describe('loadConfig: receiver options', () => {
  it('reads every receiver cap and decode limit', () => {
    const c = loadConfig(
      file(
        'caps.yaml',
        `
otlp:
  max_body_bytes: 1048576
  max_decompressed_bytes: 2097152
  max_inflight_bytes: 67108864
  body_timeout: 3s
  min_body_rate: 512
  max_concurrent_streams: 20
  max_grpc_connections: 16
  limits: { max_records: 5000, max_attributes: 256, max_string_bytes: 8192, max_depth: 8, max_span_events: 128 }
`,
      ),
      {},
      NO_ENV,
    );
    expect(c.otlp).toEqual({
      grpc: '127.0.0.1:4317',
      http: '127.0.0.1:4318',
      max_body_bytes: 1_048_576,
      max_decompressed_bytes: 2_097_152,
      max_inflight_bytes: 67_108_864,
      body_timeout: 3_000,
      min_body_rate: 512,
      max_concurrent_streams: 20,
      max_grpc_connections: 16,
      limits: {
        max_records: 5000,
        max_attributes: 256,
        max_string_bytes: 8192,
        max_depth: 8,
        max_span_events: 128,
      },
    });
  });

  it('names the field of a bad cap, and checks max_inflight_bytes against the per-request bytes', () => {
    expect(
      error(() => loadConfig(file('a.yaml', 'otlp: { max_concurrent_streams: 0 }\n'), {}, NO_ENV)),
    ).toMatch(/^\/.+\/a\.yaml: field "otlp\.max_concurrent_streams": Too small/);
    expect(
      error(() => loadConfig(file('g.yaml', 'otlp: { max_grpc_connections: 0 }\n'), {}, NO_ENV)),
    ).toMatch(/^\/.+\/g\.yaml: field "otlp\.max_grpc_connections": Too small/);
    expect(error(() => loadConfig(file('r.yaml', 'otlp: { min_body_rate: 0 }\n'), {}, NO_ENV))).toMatch(
      /^\/.+\/r\.yaml: field "otlp\.min_body_rate": Too small/,
    );
    expect(error(() => loadConfig(file('b.yaml', 'otlp: { body_timeout: 0 }\n'), {}, NO_ENV))).toBe(
      `${dir}/b.yaml: field "otlp.body_timeout": must be longer than 0`,
    );
    expect(error(() => loadConfig(file('c.yaml', 'otlp: { limits: { max_recods: 5 } }\n'), {}, NO_ENV))).toBe(
      `${dir}/c.yaml: unknown field "max_recods" in "otlp.limits"`,
    );
    // Default max_body_bytes 4 MiB, inflated 16 MiB: 20 MiB is the least.
    expect(
      error(() => loadConfig(file('d.yaml', 'otlp: { max_inflight_bytes: 1048576 }\n'), {}, NO_ENV)),
    ).toBe(
      `${dir}/d.yaml: field "otlp.max_inflight_bytes": must be at least max_body_bytes + max_decompressed_bytes (20971520)`,
    );
    expect(
      loadConfig(
        file(
          'e.yaml',
          'otlp: { max_body_bytes: 1000, max_decompressed_bytes: 1000, max_inflight_bytes: 2000 }\n',
        ),
        {},
        NO_ENV,
      ).otlp.max_inflight_bytes,
    ).toBe(2000);
    expect(error(() => loadConfig(file('f.yaml', 'otlp: { max_body_bytes: 1.5 }\n'), {}, NO_ENV))).toMatch(
      /^\/.+\/f\.yaml: field "otlp\.max_body_bytes": /,
    );
  });

  it('takes the token inline, from auth_token_file, or from --auth-token-file (surrounding whitespace ignored)', () => {
    expect(loadConfig(file('t1.yaml', 'otlp: { auth_token: s3cret }\n'), {}, NO_ENV).otlp.auth_token).toBe(
      's3cret',
    );
    const tokenFile = file('token', '  from-file-token\n');
    chmodSync(tokenFile, 0o600);
    const viaField = loadConfig(
      file('t2.yaml', `otlp: { auth_token_file: ${JSON.stringify(tokenFile)} }\n`),
      {},
      NO_ENV,
    );
    expect(viaField.otlp.auth_token).toBe('from-file-token');
    expect(loadConfig(undefined, { authTokenFile: tokenFile }, NO_ENV).otlp.auth_token).toBe(
      'from-file-token',
    );
    expect(loadConfig(undefined, {}, NO_ENV).otlp.auth_token).toBeUndefined();
  });

  it('falls back to LLMSEC_DETECTOR_AUTH_TOKEN, then LLMSEC_DETECTOR_AUTH_TOKEN_FILE; the config wins over both', () => {
    const envFile = file('env-token', 'env-file-token\n');
    expect(loadConfig(undefined, {}, { [AUTH_TOKEN_ENV]: 'env-token\n' }).otlp.auth_token).toBe('env-token');
    expect(loadConfig(undefined, {}, { [AUTH_TOKEN_FILE_ENV]: envFile }).otlp.auth_token).toBe(
      'env-file-token',
    );
    expect(
      loadConfig(undefined, {}, { [AUTH_TOKEN_ENV]: 'env-token', [AUTH_TOKEN_FILE_ENV]: envFile }).otlp
        .auth_token,
    ).toBe('env-token');
    expect(
      loadConfig(
        file('t3.yaml', 'otlp: { auth_token: from-config }\n'),
        {},
        { [AUTH_TOKEN_ENV]: 'env-token' },
      ).otlp.auth_token,
    ).toBe('from-config');
  });

  it('refuses a bad token, a token in two places, and a token file it cannot use, naming where', () => {
    expect(error(() => loadConfig(file('u1.yaml', 'otlp: { auth_token: "two words" }\n'), {}, NO_ENV))).toBe(
      `${dir}/u1.yaml: field "otlp.auth_token": want a non-empty token without whitespace or control characters`,
    );
    const tokenFile = file('token2', 'x\n');
    expect(
      error(() =>
        loadConfig(
          file('u2.yaml', `otlp: { auth_token: a, auth_token_file: ${JSON.stringify(tokenFile)} }\n`),
          {},
          NO_ENV,
        ),
      ),
    ).toBe(`${dir}/u2.yaml: field "otlp.auth_token_file": give auth_token or auth_token_file, not both`);
    const missing = join(dir, 'no-such-token');
    expect(
      error(() =>
        loadConfig(file('u3.yaml', `otlp: { auth_token_file: ${JSON.stringify(missing)} }\n`), {}, NO_ENV),
      ),
    ).toMatch(/^\/.+\/u3\.yaml: field "otlp\.auth_token_file": cannot read .*no-such-token: ENOENT/);
    expect(error(() => loadConfig(undefined, { authTokenFile: missing }, NO_ENV))).toMatch(
      /^--auth-token-file: cannot read .*no-such-token/,
    );
    expect(error(() => loadConfig(undefined, { authTokenFile: file('empty', '\n') }, NO_ENV))).toMatch(
      /^--auth-token-file \(.*empty\): want a non-empty token/,
    );
    expect(
      error(() => loadConfig(undefined, { authTokenFile: file('big', 'x'.repeat(5000)) }, NO_ENV)),
    ).toMatch(/^--auth-token-file: cannot read .*big: 5000 bytes; a token file holds the token only/);
    expect(error(() => loadConfig(undefined, {}, { [AUTH_TOKEN_ENV]: 'a b' }))).toBe(
      'LLMSEC_DETECTOR_AUTH_TOKEN: want a non-empty token without whitespace or control characters',
    );
    expect(error(() => loadConfig(undefined, {}, { [AUTH_TOKEN_FILE_ENV]: missing }))).toMatch(
      /^LLMSEC_DETECTOR_AUTH_TOKEN_FILE: cannot read .*no-such-token/,
    );
  });
});
