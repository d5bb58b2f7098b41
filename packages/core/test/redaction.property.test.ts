import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTION_TYPES, detectSensitive, redact, redactPreview, truncatePreview } from '@llmsec/core';
import * as F from './redaction.fixtures.ts';

/** Any UTF-16 code unit sequence: BMP characters, lone surrogates and astral pairs. */
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff'),
);
const anyText = fc.string({ unit: anyUnit, maxLength: 400 });

/** Limits including the odd ones callers may pass. */
const anyMax = fc.oneof(
  fc.integer({ min: 0, max: 600 }),
  fc.double({ min: 0, max: 600, noNaN: true }),
  fc.constantFrom(Number.NaN, -1, -0.5, Number.POSITIVE_INFINITY),
);

function effectiveMax(max: number): number {
  return Number.isNaN(max) || max <= 0 ? 0 : Math.floor(max);
}

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Pieces that make findings, near misses and awkward neighbours when glued together. */
const FRAGMENTS = [
  F.OPENAI_LEGACY,
  F.ANTHROPIC_KEY,
  F.GITHUB_CLASSIC,
  F.SLACK_BOT,
  F.GOOGLE_KEY,
  F.AWS_LONG_TERM,
  F.JWT_HS256,
  F.PEM_EC,
  'Authorization: Bearer ',
  'Bearer ',
  'a1b2c3d4e5f6',
  'jane.doe@example.com',
  'x@y',
  '.com',
  '+44 20 7946 0958',
  '+1',
  '(555) 123-4567',
  '555-123-4567',
  '06 12 34 56 78',
  '4111 1111 1111 1111',
  '4111111111111111',
  '123-45-6789',
  'SSN: ',
  'DE89 3704 0044 0532 0130 00',
  '192.168.1.10',
  '10.0.0',
  '2001:db8::1',
  '::',
  'fe80',
  '[REDACTED:email]',
  '[REDACTED:',
  ']',
  '1234',
  '0',
  '12',
  'sk-',
  'eyJ',
  'AKIA',
  'ghp_',
  'xoxb-',
  '-----BEGIN PRIVATE KEY-----',
  '-----END PRIVATE KEY-----',
];
const SEPARATORS = ['', '', ' ', ' ', '-', '.', ':', '@', '+', '/', '\n', '_', 'x', '9', '\ud83d\ude00'];

const glued = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FRAGMENTS) }, { weight: 1, arbitrary: anyText }),
      fc.constantFrom(...SEPARATORS),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.map(([a, b]) => a + b).join(''));

const RUNS = { numRuns: 300 };

describe('redactPreview properties', () => {
  it('never throws, never exceeds max, never ends a cut on a high surrogate', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, glued), anyMax, (text, max) => {
        const { preview, types } = redactPreview(text, max);
        const limit = effectiveMax(max);
        expect(preview.length).toBeLessThanOrEqual(limit);
        if (preview.endsWith('\u2026') && preview.length >= 2) {
          expect(isHigh(preview.charCodeAt(preview.length - 2))).toBe(false);
        }
        for (const t of types) expect(REDACTION_TYPES).toContain(t);
      }),
      RUNS,
    );
  });

  it('is truncatePreview of the redacted text', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, glued), fc.integer({ min: 0, max: 600 }), (text, max) => {
        expect(redactPreview(text, max).preview).toBe(truncatePreview(redact(text).text, max));
      }),
      RUNS,
    );
  });

  it('truncatePreview keeps a prefix of the input', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 0, max: 500 }), (text, max) => {
        const out = truncatePreview(text, max);
        expect(out.length).toBeLessThanOrEqual(max);
        if (text.length <= max) {
          expect(out).toBe(text);
        } else if (max > 0) {
          expect(out.endsWith('\u2026')).toBe(true);
          expect(text.startsWith(out.slice(0, -1))).toBe(true);
          expect(isHigh(out.charCodeAt(out.length - 2))).toBe(false);
        }
      }),
      RUNS,
    );
  });
});

describe('redact properties', () => {
  it('is idempotent: its output has nothing left to redact', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, glued), (text) => {
        const once = redact(text);
        const twice = redact(once.text);
        expect(twice.text).toBe(once.text);
        expect(twice.types).toEqual([]);
      }),
      RUNS,
    );
  });

  it('detectSensitive reports a subset of what redact reports, in the same order', () => {
    fc.assert(
      fc.property(glued, (text) => {
        const types = redact(text).types;
        const detected = detectSensitive(text);
        expect(types.filter((t) => detected.includes(t))).toEqual(detected);
      }),
      RUNS,
    );
  });

  it('credentials separated by spaces never survive, whatever surrounds them', () => {
    const secrets = [
      F.OPENAI_PROJECT,
      F.ANTHROPIC_KEY,
      F.GITHUB_FINE,
      F.SLACK_USER,
      F.GOOGLE_KEY,
      F.AWS_TEMPORARY,
      F.JWT_UNSIGNED,
      F.PEM_PKCS8,
    ];
    const words = fc.oneof(
      fc.constantFrom(...FRAGMENTS),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...secrets), words), { maxLength: 10 }), (parts) => {
        const out = redact(parts.join(' ')).text;
        for (const s of secrets) {
          if (parts.includes(s)) expect(out).not.toContain(s.slice(0, 24));
        }
      }),
      RUNS,
    );
  });
});
