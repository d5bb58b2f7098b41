import * as crypto from 'node:crypto';

/**
 * A payload's identity across accounts, for the coordinated-campaign rule: the text with case
 * and whitespace normalised, then an HMAC-SHA-256 under a per-deployment key, cut to 64 bits.
 *
 * Keyed because fingerprints are recorded on every block event, even with previews off, and
 * whoever reads telemetry could otherwise confirm a guessed prompt by hashing it: without the
 * key, a fingerprint says only "the same payload as that other event". Every process of a
 * deployment must use the same key for fingerprints to match across replicas; rotating the key
 * starts new fingerprints (a campaign that spans the rotation is seen as two). Replay and rules
 * use the recorded `payload_fingerprint` and need no key (detect's eventFingerprint).
 *
 * Without a key (old JSONL that has a preview but no recorded fingerprint), the unkeyed
 * SHA-256 form is used: it is only ever computed from a preview that is itself in the log.
 */
export function normalisePayload(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/** An HMAC key for payload fingerprints (opaque; build it with createFingerprintKey). */
export interface FingerprintKey {
  readonly kind: 'llmsec.fingerprint-key';
  /** The first 8 hex characters of SHA-256(key): names the key in logs, reveals nothing of it. */
  readonly id: string;
}

interface KeyInternals extends FingerprintKey {
  readonly secret: crypto.KeyObject;
}

/** The shortest secret accepted, in bytes (an HMAC key shorter than 128 bits is guessable). */
export const MIN_FINGERPRINT_KEY_BYTES = 16;

/**
 * A fingerprint key from a secret: bytes, or a string (hex of at least 32 digits is decoded;
 * any other string is used as UTF-8). Throws on a secret shorter than 16 bytes.
 */
export function createFingerprintKey(secret: string | Uint8Array): FingerprintKey {
  let bytes: Uint8Array;
  if (typeof secret === 'string') {
    const s = secret.trim();
    bytes = /^(?:[0-9a-fA-F]{2}){16,}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'utf8');
  } else if (secret instanceof Uint8Array) {
    bytes = secret;
  } else {
    throw new TypeError('createFingerprintKey: the secret must be a string or bytes');
  }
  if (bytes.length < MIN_FINGERPRINT_KEY_BYTES) {
    throw new TypeError(
      `createFingerprintKey: the secret must be at least ${MIN_FINGERPRINT_KEY_BYTES} bytes, got ${bytes.length}`,
    );
  }
  const id = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 8);
  const key: KeyInternals = {
    kind: 'llmsec.fingerprint-key',
    id,
    secret: crypto.createSecretKey(Buffer.from(bytes)),
  };
  return Object.freeze(key);
}

/** One-shot `crypto.hash` (Node 21.7+) skips the Hash object of createHash. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** 16 hex characters: HMAC-SHA-256 under `key` of the normalised text (unkeyed SHA-256 without a key). */
export function payloadFingerprint(text: string, key?: FingerprintKey): string {
  const normalised = normalisePayload(text);
  if (key !== undefined) {
    return crypto
      .createHmac('sha256', (key as KeyInternals).secret)
      .update(normalised)
      .digest('hex')
      .slice(0, 16);
  }
  const digest =
    typeof oneShot === 'function'
      ? oneShot('sha256', normalised, 'hex')
      : crypto.createHash('sha256').update(normalised).digest('hex');
  return digest.slice(0, 16);
}
