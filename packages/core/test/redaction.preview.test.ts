import { describe, expect, it } from 'vitest';
import { PREVIEW_MAX_CHARS, redact, redactPreview, truncatePreview } from '@llmsec/core';
import * as F from './redaction.fixtures.ts';

const ELLIPSIS = '\u2026';

describe('truncatePreview', () => {
  it('leaves text within the limit alone', () => {
    expect(truncatePreview('hello', 5)).toBe('hello');
    expect(truncatePreview('', 0)).toBe('');
    expect(truncatePreview('x'.repeat(PREVIEW_MAX_CHARS))).toHaveLength(PREVIEW_MAX_CHARS);
  });

  it('cuts to max code units including the ellipsis', () => {
    expect(truncatePreview('hello world', 6)).toBe('hello' + ELLIPSIS);
    expect(truncatePreview('x'.repeat(PREVIEW_MAX_CHARS + 1))).toBe(
      'x'.repeat(PREVIEW_MAX_CHARS - 1) + ELLIPSIS,
    );
    expect(truncatePreview('hello', 1)).toBe(ELLIPSIS);
    expect(truncatePreview('hello', 0)).toBe('');
  });

  it('never splits a surrogate pair', () => {
    // 8 units, then U+1F600 (two units), then more: a cut at 9 units would split the pair.
    const text = 'aaaaaaaa\u{1F600}bbb';
    expect(truncatePreview(text, 10)).toBe('aaaaaaaa' + ELLIPSIS);
    expect(truncatePreview(text, 11)).toBe('aaaaaaaa\u{1F600}' + ELLIPSIS);
  });

  it('cuts before a placeholder rather than through it', () => {
    expect(truncatePreview('see [REDACTED:email] now', 10)).toBe('see ' + ELLIPSIS);
    expect(truncatePreview('see [REDACTED:email] now', 21)).toBe('see [REDACTED:email]' + ELLIPSIS);
  });

  it('treats odd limits and non-strings safely', () => {
    expect(truncatePreview('hello', Number.NaN)).toBe('');
    expect(truncatePreview('hello', -3)).toBe('');
    expect(truncatePreview('hello', 3.9)).toBe('he' + ELLIPSIS);
    expect(truncatePreview('hello', Number.POSITIVE_INFINITY)).toBe('hello');
    expect(truncatePreview(undefined as unknown as string, 10)).toBe('');
  });
});

describe('redactPreview', () => {
  it('redacts before truncating, so a secret at the cut is not half shown', () => {
    const text = 'x'.repeat(489) + ' ' + F.OPENAI_LEGACY + ' tail';
    const { preview, types } = redactPreview(text);
    expect(types).toEqual(['openai_api_key']);
    expect(preview).toBe('x'.repeat(489) + ' ' + ELLIPSIS);
    expect(preview).not.toContain('sk-');
  });

  it('reports the types and keeps the placeholders it shows', () => {
    expect(redactPreview('mail jane@example.com from 10.0.0.1', 100)).toEqual({
      preview: 'mail [REDACTED:email] from [REDACTED:ipv4]',
      types: ['email', 'ipv4'],
    });
  });

  it('never throws and never exceeds max, whatever it is given', () => {
    for (const bad of [undefined, null, 42, {}, ['a@b.de']]) {
      expect(redactPreview(bad as unknown as string)).toEqual({ preview: '', types: [] });
    }
    expect(redactPreview('a@b.de', 0)).toEqual({ preview: '', types: ['email'] });
    expect(redactPreview('abc', Number.NaN).preview).toBe('');
  });

  it('on long text, the preview equals that of redacting the whole text', () => {
    const filler = 'lorem ipsum dolor sit amet '.repeat(400);
    const text = `contact jane@example.com, key ${F.AWS_LONG_TERM}. ${filler} ${F.OPENAI_PROJECT}`;
    const whole = truncatePreview(redact(text).text, 200);
    expect(redactPreview(text, 200).preview).toBe(whole);
    expect(whole).toContain('[REDACTED:email]');
    expect(whole).toContain('[REDACTED:aws_access_key]');
  });

  it('a secret anywhere past a big PEM block never shows, at any offset', () => {
    // The PEM block shrinks to a short placeholder, pulling later text into the preview:
    // a key cut by a scanning window there must still be recognised.
    for (let pad = 0; pad <= 1600; pad += 23) {
      const text = `${F.PEM_RSA}\n${'y'.repeat(pad)} ${F.OPENAI_LEGACY} ${'z '.repeat(2000)}`;
      const { preview } = redactPreview(text);
      expect(preview.length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS);
      expect(preview).not.toContain(F.OPENAI_LEGACY.slice(0, 8));
      expect(preview.startsWith('[REDACTED:private_key]\n')).toBe(true);
    }
  });
});
