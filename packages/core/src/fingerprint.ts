import { createHash } from 'node:crypto';

/**
 * A payload's identity across accounts, for the coordinated-campaign rule: the text with case
 * and whitespace normalised, hashed so that the fingerprint (an alert label) reveals nothing.
 * The SDK fingerprints the redacted, truncated preview text, so replaying JSONL that carries
 * `request_preview` yields the same fingerprint as the live event's `payload_fingerprint`.
 */
export function normalisePayload(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

export function payloadFingerprint(text: string): string {
  return createHash('sha256').update(normalisePayload(text)).digest('hex').slice(0, 16);
}
