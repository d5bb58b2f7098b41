/**
 * Redaction types: what a finding is called in its placeholder (`[REDACTED:<type>]`), in the
 * `pii_types` metadata of `pii_detected` events and in guard configuration.
 */

/** Personal data: identifies or locates a person, or is their financial account. */
export const PII_TYPES = ['email', 'phone', 'credit_card', 'us_ssn', 'iban', 'ipv4', 'ipv6'] as const;

/** Credentials: grant access to something. */
export const SECRET_TYPES = [
  'private_key',
  'jwt',
  'anthropic_api_key',
  'openai_api_key',
  'github_token',
  'slack_token',
  'google_api_key',
  'aws_access_key',
  'bearer_token',
] as const;

/** Every type, in the stable order in which results report them (secrets first). */
export const REDACTION_TYPES = [...SECRET_TYPES, ...PII_TYPES] as const;

export type PiiType = (typeof PII_TYPES)[number];
export type SecretType = (typeof SECRET_TYPES)[number];
export type RedactionType = (typeof REDACTION_TYPES)[number];

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_TYPES);
const PII_SET: ReadonlySet<string> = new Set(PII_TYPES);

export function isRedactionType(value: unknown): value is RedactionType {
  return typeof value === 'string' && (SECRET_SET.has(value) || PII_SET.has(value));
}

/** True for credentials (keys, tokens); false for personal data and unknown names. */
export function isSecretType(type: string): type is SecretType {
  return SECRET_SET.has(type);
}

/** True for personal data (contact, financial, network identifiers). */
export function isPiiType(type: string): type is PiiType {
  return PII_SET.has(type);
}

/** The text that replaces a finding. */
export function redactionPlaceholder(type: RedactionType): string {
  return `[REDACTED:${type}]`;
}

/**
 * One detector: a module-level global regex finds candidates, `accept` validates them
 * (checksums, context) and may shorten them to a prefix. Several detectors may share a type.
 */
export interface Detector {
  readonly type: RedactionType;
  /** Cheap whole-text test (a substring or one character class); false skips the regex. */
  readonly trigger: (text: string) => boolean;
  /**
   * ASCII characters one of which every text the detector finds something in contains (a
   * necessary condition: a character of its trigger's substring, say, or one every match of
   * its pattern holds). The scan reads each text once for all detectors' characters and skips
   * a detector whose characters are all absent, trigger and pattern (issue 13: one character
   * loop instead of a string search or regex run per trigger). Omitted: the trigger always runs.
   */
  readonly needs?: string;
  /**
   * Global (`g`) regex with bounded quantifiers only, and no lazy or backtracking scan that can
   * restart at every candidate position (the cost per candidate must be bounded by a small
   * constant, or by the length of the finding it produces, so a scan is linear in the text).
   */
  readonly pattern: RegExp;
  /**
   * How much of the match is a finding: `true` all of it, `false` or `0` none, a number the
   * length of the finding from the match's start (the scan then resumes right after it): a
   * prefix, or, for a detector whose extent one bounded regex cannot find in linear time (PEM
   * keys: BEGIN ... END), more than the match. Must run in time bounded by its own caps.
   */
  readonly accept?: (match: string, text: string, index: number) => boolean | number;
}
