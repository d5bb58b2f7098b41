import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTACT_DETECTORS } from '../src/redaction/contact.ts';
import { scan } from '../src/redaction/engine.ts';
import { FINANCE_DETECTORS } from '../src/redaction/finance.ts';
import { IDENTITY_DETECTORS } from '../src/redaction/identity.ts';
import { NETWORK_DETECTORS } from '../src/redaction/network.ts';
import { SECRET_DETECTORS } from '../src/redaction/secrets.ts';
import type { Detector } from '../src/redaction/types.ts';
import * as F from './redaction.fixtures.ts';

/**
 * A detector's `needs` (issue 13): the scan skips its trigger for a text with none of those
 * characters, so they must be a necessary condition of the trigger, and the scan must find
 * exactly what it found when every trigger ran.
 */

const DETECTORS: readonly Detector[] = [
  ...SECRET_DETECTORS,
  ...CONTACT_DETECTORS,
  ...FINANCE_DETECTORS,
  ...IDENTITY_DETECTORS,
  ...NETWORK_DETECTORS,
];

/** What the triggers look for, the data itself, and characters near them (case folds included). */
const PIECES = [
  'PRIVATE KEY-----',
  '-----BEGIN RSA PRIVATE KEY-----',
  'eyJ',
  'sk-ant-',
  'sk-',
  'ghp_',
  'gho_',
  'github_pat_',
  'xox',
  'xoxb-',
  'AIza',
  'AKIA',
  'ASIA',
  'bearer ',
  'Bearer ',
  'BEARER ',
  'Authorization: Bearer ',
  'ssn ',
  'SSN: ',
  'social security number ',
  'SOCIAL SECURITY ',
  'jane.doe@example.com',
  '+44 20 7946 0958',
  '(415) 555-0132',
  '01 23 45 67 89',
  '4111 1111 1111 1111',
  'DE89 3704 0044 0532 0130 00',
  '123-45-6789',
  '123 45 6789',
  '192.168.1.20',
  '2001:db8::8a2e:370:7334',
  '10:30',
  F.OPENAI_PROJECT,
  F.ANTHROPIC_KEY,
  F.GITHUB_CLASSIC,
  F.GITHUB_FINE,
  F.SLACK_BOT,
  F.GOOGLE_KEY,
  F.AWS_LONG_TERM,
  F.AWS_TEMPORARY,
  F.JWT_HS256,
  F.PEM_PKCS8,
  'ſ',
  'K',
  'İ',
  'ı',
  'é',
  ' ',
  '\n',
  'a',
  'x',
  '0',
  '9',
  '@',
  '+',
  ':',
  '_',
  '-',
];
const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join(''));

describe('redaction needs', () => {
  it('every detector has needs, each an ASCII set', () => {
    for (const d of DETECTORS) expect(d.needs, d.type).toMatch(/^[\x00-\x7f]+$/);
  });

  it("a detector finds nothing in a text without its needs", () => {
    fc.assert(
      fc.property(text, fc.constantFrom(...DETECTORS), (t, d) => {
        // The text with every character of the needs taken out: the trigger must not fire, or
        // (the SSN label, whose number needs a digit) its pattern must find nothing there.
        const without = [...(d.needs as string)].reduce((s, c) => s.split(c).join(''), t);
        const found = d.trigger(without) ? scan(without, [{ ...d, needs: undefined }]) : [];
        expect(found, `${d.type} on ${JSON.stringify(without)}`).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('the SSN label regex runs only on a text with a digit, and still finds', () => {
    // Issue 13: its needs were the label's 's', so it ran on almost every English text.
    let runs = 0;
    const counted = IDENTITY_DETECTORS.map((d) => ({
      ...d,
      trigger: (t: string): boolean => {
        runs++;
        return d.trigger(t);
      },
    }));
    expect(scan('my ssn is secret, ask social security', counted)).toEqual([]);
    expect(runs).toBe(0);
    expect(scan('ssn: 123 45 6789', counted)).toEqual([{ start: 5, end: 16, type: 'us_ssn' }]);
    expect(runs).toBeGreaterThan(0);
  });

  it('a detector list of more distinct triggers than the scan has bits finds the same', () => {
    // 40 more detectors, each with a trigger of its own that never fires: the array path.
    const never = /(?!)/g;
    const padded: Detector[] = [
      ...DETECTORS,
      ...Array.from({ length: 40 }, (): Detector => ({
        type: 'email',
        trigger: () => false,
        pattern: never,
      })),
    ];
    fc.assert(
      fc.property(text, (t) => {
        expect(scan(t, padded)).toEqual(scan(t, DETECTORS));
      }),
      { numRuns: 1000 },
    );
  });

  it('the scan finds the same with the needs as with every trigger run', () => {
    const everyTrigger = DETECTORS.map((d) => ({ ...d, needs: undefined }));
    fc.assert(
      fc.property(text, (t) => {
        expect(scan(t, DETECTORS)).toEqual(scan(t, everyTrigger));
      }),
      { numRuns: 3000 },
    );
  });
});
