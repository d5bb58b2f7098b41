import { describe, expect, it } from 'vitest';
import {
  REDACTION_TYPES,
  detectSensitive,
  redact,
  redactionPlaceholder,
  type RedactionType,
} from '@llmsec/core';
import * as F from './redaction.fixtures.ts';

/** Each value sits in a sentence; the sentence must come back with exactly it replaced. */
const POSITIVES: Record<RedactionType, string[]> = {
  private_key: [F.PEM_RSA, F.PEM_PKCS8, F.PEM_EC, F.PEM_OPENSSH, F.PEM_ENCRYPTED],
  jwt: [F.JWT_HS256, F.JWT_UNSIGNED],
  anthropic_api_key: [F.ANTHROPIC_KEY, F.ANTHROPIC_ADMIN],
  openai_api_key: [F.OPENAI_LEGACY, F.OPENAI_PROJECT, F.OPENAI_SERVICE],
  github_token: [F.GITHUB_CLASSIC, F.GITHUB_OAUTH, F.GITHUB_SERVER, F.GITHUB_FINE],
  slack_token: [F.SLACK_BOT, F.SLACK_USER, 'xoxa-2-1234567890-abcdef123456', 'xoxr-9f8e7d6c5b4a-1234567890'],
  google_api_key: [F.GOOGLE_KEY],
  aws_access_key: [F.AWS_LONG_TERM, F.AWS_TEMPORARY],
  bearer_token: [], // context-dependent: see the bearer cases below
  email: [
    'jane.doe@example.com',
    'john.smith+newsletter@mail.example.co.uk',
    'first_last%ops@sub-domain.example.io',
    'ADMIN@EXAMPLE.ORG',
    'a@b.de',
  ],
  phone: [
    '+1 (555) 123-4567',
    '+44 20 7946 0958',
    '+44 (0)20 7946 0958',
    '+33 6 12 34 56 78',
    '+49 30 12345678',
    '+14155552671',
    '+81-3-1234-5678',
    '(555) 123-4567',
    '555-123-4567',
    '415.555.2671',
    '1-800-555-0199',
    '06 12 34 56 78',
    '01.23.45.67.89',
    '020 7946 0958',
    '030 12345678',
    '030/12345678',
    '07700 900123',
  ],
  credit_card: [
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '4111111111111111',
    '5500 0000 0000 0004',
    '5105105105105100',
    '2223 0031 2200 3222',
    '3782 822463 10005',
    '3622 720627 1667',
    '6011 1111 1111 1117',
    '3530 1113 3330 0000',
    '4222222222222',
  ],
  us_ssn: ['123-45-6789', '078-05-1120', '219-09-9999'],
  iban: [
    'DE89 3704 0044 0532 0130 00',
    'DE89370400440532013000',
    'GB82 WEST 1234 5698 7654 32',
    'FR14 2004 1010 0505 0001 3M02 606',
    'NL91ABNA0417164300',
    'ES91 2100 0418 4502 0005 1332',
    'BE68 5390 0754 7034',
    'CH93 0076 2011 6238 5295 7',
    'IT60 X054 2811 1010 0000 0123 456',
    'NO93 8601 1117 947',
    'PL61 1090 1014 0000 0712 1981 2874',
  ],
  ipv4: ['192.168.1.10', '10.0.0.1', '8.8.8.8', '255.255.255.255', '1.2.3.4', '203.0.113.7'],
  ipv6: [
    '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
    '2001:db8:85a3::8a2e:370:7334',
    '2001:db8::1',
    'fe80::1ff:fe23:4567:890a',
    'fe80::1',
    'ff02::2',
    '::ffff:192.0.2.128',
    '64:ff9b::192.0.2.33',
    '2001:DB8:0:0:8:800:200C:417A',
  ],
};

describe('redaction corpus: positives', () => {
  for (const type of REDACTION_TYPES) {
    for (const value of POSITIVES[type]) {
      it(`${type}: ${value.length > 48 ? value.slice(0, 45) + '...' : value}`, () => {
        const input = `Here it is: ${value} (please keep it safe).`;
        const result = redact(input);
        expect(result.text).toBe(`Here it is: ${redactionPlaceholder(type)} (please keep it safe).`);
        expect(result.types).toEqual([type]);
        expect(detectSensitive(input)).toEqual([type]);
      });
    }
  }

  it('the same value alone, at the start and at the end of a line', () => {
    expect(redact('jane.doe@example.com').text).toBe('[REDACTED:email]');
    expect(redact('IP: 10.0.0.1\nnext').text).toBe('IP: [REDACTED:ipv4]\nnext');
    expect(redact('card=4111111111111111').text).toBe('card=[REDACTED:credit_card]');
  });
});

describe('redaction corpus: bearer tokens', () => {
  const cases: [string, string][] = [
    ['Authorization: Bearer abc', 'Authorization: Bearer [REDACTED:bearer_token]'],
    ['authorization: bearer mF_9.B5f-4.1JqM', 'authorization: bearer [REDACTED:bearer_token]'],
    ['{"Authorization": "Bearer 0a1b2c3d4e5f"}', '{"Authorization": "Bearer [REDACTED:bearer_token]"}'],
    [
      'curl -H "Authorization: Bearer tok_live_x9Y8"',
      'curl -H "Authorization: Bearer [REDACTED:bearer_token]"',
    ],
    ['use Bearer a1b2c3d4e5f6g7h8 here', 'use Bearer [REDACTED:bearer_token] here'],
    ['BEARER Zm9vYmFyOmJhejEyMzQ1Njc4OTA=', 'BEARER [REDACTED:bearer_token]'],
  ];
  for (const [input, expected] of cases) {
    it(input, () => {
      expect(redact(input)).toEqual({ text: expected, types: ['bearer_token'] });
    });
  }

  it('a vendor key or JWT after Bearer is reported as what it is', () => {
    expect(redact(`Authorization: Bearer ${F.OPENAI_PROJECT}`)).toEqual({
      text: 'Authorization: Bearer [REDACTED:openai_api_key]',
      types: ['openai_api_key'],
    });
    expect(redact(`Authorization: Bearer ${F.JWT_HS256}`)).toEqual({
      text: 'Authorization: Bearer [REDACTED:jwt]',
      types: ['jwt'],
    });
  });
});

describe('redaction corpus: precedence and partial findings', () => {
  it('sk-ant- is an Anthropic key, never an OpenAI key', () => {
    expect(redact(F.ANTHROPIC_KEY).types).toEqual(['anthropic_api_key']);
    expect(redact(F.ANTHROPIC_KEY, { types: ['openai_api_key'] })).toEqual({
      text: F.ANTHROPIC_KEY,
      types: [],
    });
  });

  it('the digits of an IBAN are not also a card number', () => {
    const result = redact('Pay to DE89 3704 0044 0532 0130 00 by Friday');
    expect(result).toEqual({ text: 'Pay to [REDACTED:iban] by Friday', types: ['iban'] });
  });

  it('an IBAN followed by a word: the word stays', () => {
    expect(redact('DE89 3704 0044 0532 0130 00 EUR').text).toBe('[REDACTED:iban] EUR');
  });

  it('a card followed by its expiry: only the card is redacted', () => {
    expect(redact('card 4111 1111 1111 1111 12/27 cvv 123').text).toBe(
      'card [REDACTED:credit_card] 12/27 cvv 123',
    );
  });

  it('a PEM block without its END line (a truncated paste) is still redacted', () => {
    const cut = F.PEM_RSA.slice(0, 300);
    const result = redact(`key:\n${cut}`);
    expect(result.text).toBe('key:\n[REDACTED:private_key]');
  });

  it('labelled SSNs may be unbroken or spaced', () => {
    expect(redact('SSN: 123456789').text).toBe('SSN: [REDACTED:us_ssn]');
    expect(redact('social security number 123 45 6789').text).toBe(
      'social security number [REDACTED:us_ssn]',
    );
  });

  it('addresses keep their port and zone', () => {
    expect(redact('http://192.168.1.10:8080/x').text).toBe('http://[REDACTED:ipv4]:8080/x');
    expect(redact('[2001:db8::1]:443').text).toBe('[[REDACTED:ipv6]]:443');
    expect(redact('fe80::1%eth0').text).toBe('[REDACTED:ipv6]%eth0');
  });

  it('reports each type once, in REDACTION_TYPES order, whatever the text order', () => {
    const text = `mail a@b.de, ip 10.0.0.1, key ${F.AWS_LONG_TERM}, mail c@d.de, ip 10.0.0.2, ${F.JWT_HS256}`;
    const expected: RedactionType[] = ['jwt', 'aws_access_key', 'email', 'ipv4'];
    expect(redact(text).types).toEqual(expected);
    expect(detectSensitive(text)).toEqual(expected);
    expect(redact(text).text).toBe(
      'mail [REDACTED:email], ip [REDACTED:ipv4], key [REDACTED:aws_access_key], mail [REDACTED:email], ip [REDACTED:ipv4], [REDACTED:jwt]',
    );
  });

  it('options.types restricts what is looked for', () => {
    const text = 'a@b.de from 10.0.0.1';
    expect(redact(text, { types: ['ipv4'] })).toEqual({
      text: 'a@b.de from [REDACTED:ipv4]',
      types: ['ipv4'],
    });
    expect(detectSensitive(text, { types: ['email'] })).toEqual(['email']);
    expect(redact(text, { types: [] })).toEqual({ text, types: [] });
  });
});

/** Near misses: each must come back unchanged, with no type. */
const NEGATIVES: Record<string, string[]> = {
  credit_card: [
    '4111 1111 1111 1112', // Luhn fails
    '4111111111111112',
    '1234567812345670', // Luhn-valid but no card network starts with 1
    '4111 1111-1111 1111', // mixed separators
    '41111111111111111111111', // too long
    'order 4111.1111',
  ],
  iban: [
    'DE89 3704 0044 0532 0130 01', // checksum
    'DE5137040044053201300', // valid mod-97 but a German IBAN has 22 characters
    'GB82 WEST 1234 5698 7654 33',
  ],
  openai_api_key: [
    'see the task-list for details',
    'sk-learn-tutorial-for-beginners-2024',
    'risk-assessment-document-2024-v2',
    'sk-short123',
    `mask-${F.OPENAI_LEGACY.slice(3)}`,
  ],
  anthropic_api_key: ['sk-ant-short'],
  aws_access_key: ['AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLEX', 'AKIA in prose'],
  github_token: ['ghp_short', 'the ghp_ prefix', 'xghp_' + F.GITHUB_CLASSIC.slice(4)],
  slack_token: ['xoxb-not-a-real-token', 'xoxz-1234567890-123'],
  google_api_key: [F.GOOGLE_KEY.slice(0, 38), 'AIza is a prefix'],
  jwt: ['eyJhbGciOiJIUzI1NiJ9', 'the eyJ prefix means {"'],
  private_key: [
    '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----',
  ],
  bearer_token: ['Bearer authentication is described in RFC 6750', 'a Bearer token', 'bearers of bad news'],
  email: [
    '@username',
    'npm i @scope/pkg@1.2.3',
    'react@18.2.0',
    'icon@2x.png',
    'user@localhost',
    'a @ b.com',
  ],
  phone: [
    '2026-11-22T10:00:00+05:30',
    'UTC+0100',
    '+12 votes',
    'up +3.14159265 today',
    '123-456-7890', // NANP area codes never start with 1
    '555-123.4567', // mixed separators
    'order #12345678',
    'ts 1732269600000',
    'on 01 12 2024',
    'C++ 20',
    '555-1234',
  ],
  us_ssn: ['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '123456789'],
  ipv4: [
    'version 2.10.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.02.03.04',
    'v1.2.3.4',
    '10.0.0',
    'listen on 127.0.0.1:3000', // loopback identifies no one
    'bind 0.0.0.0',
  ],
  ipv6: [
    '10:30:45',
    'Add::Dec',
    'std::vector',
    'x :: Int',
    '00:1a:2b:3c:4d:5e',
    'abc::def',
    'connect to ::1',
    'a[::2] and a[1::2] and a[::-1]', // Python slices
  ],
};

describe('redaction corpus: near misses stay', () => {
  for (const [family, values] of Object.entries(NEGATIVES)) {
    for (const value of values) {
      it(`${family}: ${JSON.stringify(value.length > 48 ? value.slice(0, 45) + '...' : value)}`, () => {
        const input = `x ${value} y`;
        expect(redact(input)).toEqual({ text: input, types: [] });
        expect(detectSensitive(input)).toEqual([]);
      });
    }
  }
});
