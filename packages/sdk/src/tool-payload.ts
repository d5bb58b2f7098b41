import { redact } from '@llmsec/core';

/**
 * The text a tool-marked block's payload fingerprint is taken over: all of the payload,
 * redacted as a preview is (its first `redactChars` characters: redaction is a regex scan, and
 * a multi-megabyte tool output must not cost one in the request path; the rest is hashed as it
 * is, under the deployment's HMAC key, so nothing of it can be guessed back).
 *
 * Why not the preview, as other events: the preview is the first 500 characters, and the
 * tool-marked blocks are the ones the per-user rules skip, left to tool_injection_variety,
 * which counts a user's distinct fingerprints. A user who put one fixed 500-character lead
 * before each of their varied injections (in an attached document, a forged tool message) gave
 * them all one fingerprint, and the rule never fired. Over the whole payload, a victim's one
 * poisoned page resent every turn is still one fingerprint; different payloads are different.
 * A payload that fits a preview gives the preview's text, so its fingerprint is as before.
 */
export function toolPayloadText(text: string, redactChars: number): string {
  if (text.length <= redactChars) return redact(text).text;
  return redact(text.slice(0, redactChars)).text + text.slice(redactChars);
}
