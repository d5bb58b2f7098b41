import * as crypto from 'node:crypto';

/**
 * A payload's identity across accounts, for the coordinated-campaign rule: the text with case
 * and whitespace normalised, hashed so that the fingerprint (an alert label) reveals nothing.
 * The SDK fingerprints the redacted, truncated preview text, so replaying JSONL that carries
 * `request_preview` yields the same fingerprint as the live event's `payload_fingerprint`.
 */
export function normalisePayload(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/** One-shot `crypto.hash` (Node 21.7+) skips the Hash object of createHash: it is on the event path. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function payloadFingerprint(text: string): string {
  const normalised = normalisePayload(text);
  const digest = typeof oneShot === 'function' ? oneShot('sha256', normalised, 'hex') : crypto.createHash('sha256').update(normalised).digest('hex');
  return digest.slice(0, 16);
}
