import { CONTACT_DETECTORS } from './contact.ts';
import { scan, type Finding } from './engine.ts';
import { FINANCE_DETECTORS } from './finance.ts';
import { IDENTITY_DETECTORS } from './identity.ts';
import { NETWORK_DETECTORS } from './network.ts';
import { SECRET_DETECTORS } from './secrets.ts';
import { REDACTION_TYPES, redactionPlaceholder, type Detector, type RedactionType } from './types.ts';

/**
 * Priority order: credentials (their base64 bodies contain anything), then e-mail (before
 * phones and IPs, which its local part or domain could contain), bank and card numbers, SSNs,
 * IP addresses, and phone numbers last, as the loosest shape.
 */
const EMAIL_FIRST = CONTACT_DETECTORS.filter((d) => d.type === 'email');
const PHONES = CONTACT_DETECTORS.filter((d) => d.type === 'phone');
export const ALL_DETECTORS: readonly Detector[] = [
  ...SECRET_DETECTORS,
  ...EMAIL_FIRST,
  ...FINANCE_DETECTORS,
  ...IDENTITY_DETECTORS,
  ...NETWORK_DETECTORS,
  ...PHONES,
];

export interface RedactOptions {
  /** Only these types are looked for. Default: all of REDACTION_TYPES. */
  types?: readonly RedactionType[];
  /**
   * Input cap for personal data: the PII detectors (e-mail, phone, cards, IBAN, SSN, IP) find
   * only data that starts in the first `piiMaxChars` UTF-16 units, reading at most 256 units
   * past them (engine.ts PAST_CUT), so data the cap cuts is found whole and a token cut there
   * is not taken for the data its head looks like; credentials (SECRET_TYPES, anchored on
   * fixed prefixes) are still looked for in the whole text. Every detector is linear, so the
   * cap bounds the constant, not the shape, of the cost. @default no cap
   */
  piiMaxChars?: number;
}

export interface RedactResult {
  /** The text with each finding replaced by `[REDACTED:<type>]`. */
  text: string;
  /** Types found, each once, in REDACTION_TYPES order. */
  types: RedactionType[];
}

/**
 * Replacing a finding can put a new neighbour next to a placeholder (`]` ends a word where a
 * letter used to), so redact repeats the scan on its own output until nothing changes: that
 * makes it idempotent. Two passes are the norm; the bound is a backstop.
 */
const MAX_PASSES = 4;

/** Each type's bit in a selection's key (16 types: well inside 31 bits). */
const TYPE_BIT = new Map<string, number>(REDACTION_TYPES.map((t, i) => [t, 1 << i]));
/**
 * The detector list per `types` selection, by the selection's bits. The scan keeps its trigger
 * plan per list (engine.ts planOf: a WeakMap by the list), so a list filtered per call rebuilt
 * that plan per scan: piiGuard({ types }) scans every prompt and response, and a 65-character
 * prompt with every type listed took ~50 us a scan against ~0.5 us without `types` (issue 13
 * review). Bounded: past MAX_SELECTIONS distinct selections a list is filtered per call again.
 */
const selections = new Map<number, readonly Detector[]>();
const MAX_SELECTIONS = 64;

/** The detectors of `options.types` (all without it), in priority order: the same list per selection. */
export function selectDetectors(options: RedactOptions | undefined): readonly Detector[] {
  const types = options?.types;
  if (types === undefined) return ALL_DETECTORS;
  let key = 0;
  // Unknown names select nothing (as the Set filter did); a non-iterable throws, as it did.
  for (const t of types) key |= TYPE_BIT.get(t) ?? 0;
  let list = selections.get(key);
  if (list === undefined) {
    list = ALL_DETECTORS.filter((d) => (key & TYPE_BIT.get(d.type)!) !== 0);
    if (selections.size < MAX_SELECTIONS) selections.set(key, list);
  }
  return list;
}

function applyFindings(text: string, findings: readonly Finding[]): string {
  let out = '';
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + redactionPlaceholder(f.type);
    at = f.end;
  }
  return out + text.slice(at);
}

function typesOf(seen: ReadonlySet<RedactionType>): RedactionType[] {
  return REDACTION_TYPES.filter((t) => seen.has(t));
}

/** Replaces secrets and personal data with typed placeholders; reports the types found. */
export function redact(text: string, options?: RedactOptions): RedactResult {
  if (typeof text !== 'string') return { text: '', types: [] };
  const detectors = selectDetectors(options);
  const seen = new Set<RedactionType>();
  let current = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const findings = scan(current, detectors, options?.piiMaxChars);
    if (findings.length === 0) break;
    for (const f of findings) seen.add(f.type);
    current = applyFindings(current, findings);
  }
  return { text: current, types: seen.size === 0 ? [] : typesOf(seen) };
}

/** One finding of findSensitive: `text.slice(start, end)` is personal data or a secret of `type`. */
export interface SensitiveSpan {
  start: number;
  end: number;
  type: RedactionType;
}

/**
 * Where `text` holds personal data or secrets: the findings of one scan (redact's first pass),
 * sorted by start, not overlapping. For a caller that combines readings of one text (the SDK's
 * PII guard reads a message's parts both joined and apart) and must replace what either finds.
 */
export function findSensitive(text: string, options?: RedactOptions): SensitiveSpan[] {
  if (typeof text !== 'string') return [];
  return scan(text, selectDetectors(options), options?.piiMaxChars);
}

/**
 * The types in `text`, without building a redacted copy: for the PII guard, which only needs
 * to know whether (and what) to block or record. Equal to redact's types except in the rare
 * case where redact's second pass finds a neighbour that a first-pass finding had hidden.
 */
export function detectSensitive(text: string, options?: RedactOptions): RedactionType[] {
  if (typeof text !== 'string') return [];
  const findings = scan(text, selectDetectors(options), options?.piiMaxChars);
  if (findings.length === 0) return [];
  const seen = new Set<RedactionType>();
  for (const f of findings) seen.add(f.type);
  return typesOf(seen);
}
