import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { createFingerprintKey, type FingerprintKey } from '@llmsec/core';
import { readFileCapped } from '@llmsec/core/internal';

/**
 * The per-deployment key of payload fingerprints (core fingerprint.ts), resolved in this order:
 *
 * 1. the `fingerprintKey` option (a FingerprintKey, bytes, or a string: hex or passphrase, at
 *    least 16 bytes);
 * 2. `LLMSEC_FINGERPRINT_KEY` (same forms);
 * 3. a key file: the `fingerprintKeyFile` option, else `LLMSEC_FINGERPRINT_KEY_FILE`, else
 *    `~/.llmsec/fingerprint.key`; read if it exists, else created with 32 random bytes (hex),
 *    mode 0600 in a 0700 directory. A file readable by group or others is used with a warning.
 * 4. if the file can be neither read nor created (read-only file system): a random key for this
 *    process, with a warning (fingerprints then match only within the process).
 *
 * Replicas of one deployment must share the key (set the variable, or mount the same file) for
 * the campaign rule to see one payload sent through several of them. Rotation: set a new key
 * and restart; fingerprints recorded before and after differ, so a campaign spanning the change
 * is reported as two; rules and replay read recorded fingerprints and need no key.
 */

export interface FingerprintKeyOptions {
  fingerprintKey?: FingerprintKey | string | Uint8Array;
  fingerprintKeyFile?: string;
}

export const FINGERPRINT_KEY_ENV = 'LLMSEC_FINGERPRINT_KEY';
export const FINGERPRINT_KEY_FILE_ENV = 'LLMSEC_FINGERPRINT_KEY_FILE';

function isKey(value: unknown): value is FingerprintKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'llmsec.fingerprint-key'
  );
}

/** Resolves the key; throws on an invalid configured key (a configuration error), never on a missing file. */
export function resolveFingerprintKey(
  options: FingerprintKeyOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): FingerprintKey {
  const given = options.fingerprintKey;
  if (given !== undefined) return isKey(given) ? given : createFingerprintKey(given);
  const fromEnv = env[FINGERPRINT_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return createFingerprintKey(fromEnv);
  const file =
    options.fingerprintKeyFile ??
    (env[FINGERPRINT_KEY_FILE_ENV]?.trim() || join(homedir(), '.llmsec', 'fingerprint.key'));
  try {
    return createFingerprintKey(readOrCreate(file));
  } catch (err) {
    if (err instanceof TypeError) throw new TypeError(`llmsec: fingerprint key file ${file}: ${err.message}`);
    diag.warn(
      `llmsec: cannot read or create the fingerprint key file ${file} (${(err as Error).message}); using a random key for this process: set ${FINGERPRINT_KEY_ENV} so that every replica shares one`,
    );
    return createFingerprintKey(randomBytes(32));
  }
}

/**
 * A key file holds a key (the generated one is 65 bytes). Read whole, a slip such as
 * `LLMSEC_FINGERPRINT_KEY_FILE=/dev/zero` grew the process without bound at setup; past this it
 * is a configuration error naming the file, as a malformed key is.
 */
const MAX_KEY_FILE_BYTES = 65_536;

function readKeyFile(file: string): string {
  try {
    return readFileCapped(file, MAX_KEY_FILE_BYTES);
  } catch (err) {
    // readFileCapped's own 'larger than' (no errno): the configuration's mistake, not the disk's.
    if ((err as NodeJS.ErrnoException).code === undefined) throw new TypeError((err as Error).message);
    throw err;
  }
}

function readOrCreate(file: string): string {
  try {
    const mode = statSync(file).mode;
    if ((mode & 0o077) !== 0)
      diag.warn(
        `llmsec: the fingerprint key file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
      );
    return readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  let fd: number;
  try {
    // 'wx': never overwrite a key another process created meanwhile; read theirs instead.
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(file);
    throw err;
  }
  try {
    writeSync(fd, `${secret}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600); // the umask may have narrowed or (never wider) kept the mode: make it exact
  return secret;
}

let processDefault: FingerprintKey | undefined;

/** The key of SecurityEvents built without one: resolved once per process, on first use. */
export function defaultFingerprintKey(): FingerprintKey {
  processDefault ??= resolveFingerprintKey();
  return processDefault;
}
