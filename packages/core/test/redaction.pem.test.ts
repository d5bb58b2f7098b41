import { describe, expect, it } from 'vitest';
import { detectSensitive, redact } from '../src/index.ts';

const BODY =
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n';
const key = (kind = '') => `-----BEGIN ${kind}PRIVATE KEY-----\n${BODY}-----END ${kind}PRIVATE KEY-----`;

describe('PEM private keys (BEGIN header, then the END line found once per scan)', () => {
  it('a whole key, several keys, and text around them', () => {
    const text = `a ${key('RSA ')} b ${key()} c ${key('OPENSSH ')} d`;
    expect(redact(text)).toEqual({
      text: 'a [REDACTED:private_key] b [REDACTED:private_key] c [REDACTED:private_key] d',
      types: ['private_key'],
    });
  });

  it('a truncated paste (no END line) redacts the base64 body after the header', () => {
    expect(redact(`key: -----BEGIN PRIVATE KEY-----\n${BODY}`).text).toBe('key: [REDACTED:private_key]');
  });

  it('an END line of another kind is not the end of the key; an END too far away is not either', () => {
    const decoy = `-----BEGIN PRIVATE KEY-----\n${BODY}-----END PUBLIC KEY----- tail! rest`;
    expect(redact(decoy).text).toBe('[REDACTED:private_key]! rest');
    const far = `-----BEGIN PRIVATE KEY-----!${'x'.repeat(20_000)} -----END PRIVATE KEY-----`;
    expect(redact(far).text.startsWith('[REDACTED:private_key]!xxx')).toBe(true);
  });

  it('repeated headers without END lines: each header is one finding; the same answer on a second, different text', () => {
    const headers = '-----BEGIN RSA PRIVATE KEY-----!'.repeat(3);
    expect(redact(headers).text).toBe('[REDACTED:private_key]!'.repeat(3));
    // An END within 16 KiB of the first header ends it (as the old lazy pattern did)...
    expect(redact(`${headers}${key()}`).text).toBe('[REDACTED:private_key]');
    // ...and the END position remembered for that text does not leak into the next one.
    expect(redact(`${headers}${' '.repeat(200)}`).text).toBe(
      `${'[REDACTED:private_key]!'.repeat(3)}${' '.repeat(200)}`,
    );
    expect(detectSensitive('-----BEGIN PRIVATE KEY-----')).toEqual(['private_key']);
  });

  it('piiMaxChars: personal data only in the prefix, credentials everywhere', () => {
    const text = `${'x '.repeat(600)}bob@example.com ${key()}`;
    expect(detectSensitive(text, { piiMaxChars: 1000 })).toEqual(['private_key']);
    expect(detectSensitive(text)).toEqual(['private_key', 'email']);
  });
});
