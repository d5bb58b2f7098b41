import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { readFileCapped } from '@llmsec/core/internal';
import type { z } from 'zod';
import { bearerToken, configSchema, type ParsedConfig } from './config-schema.ts';
import { yaml } from './yaml-lazy.ts';

/** A config file or flag that cannot be used; the message names the file or flag and the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Command-line values that override the file (flags for the common options). */
export interface ConfigFlags {
  otlpGrpc?: string;
  otlpHttp?: string;
  rules?: string;
  state?: string;
  alertmanager?: string[];
  alertmanagerResendInterval?: string;
  webhook?: string[];
  alerts?: string;
  otlpAlerts?: string;
  allowedLateness?: string;
  queueCapacity?: string;
  maxOpenIncidentsPerRule?: string;
  maxOverflowIncidentsPerRule?: string;
  shutdownTimeout?: string;
  logLevel?: string;
  authTokenFile?: string;
}

/** The receivers' bearer token, when neither `otlp.auth_token` nor `otlp.auth_token_file` is set. */
export const AUTH_TOKEN_ENV = 'LLMSEC_DETECTOR_AUTH_TOKEN';
/** A file holding it, when AUTH_TOKEN_ENV is not set either. */
export const AUTH_TOKEN_FILE_ENV = 'LLMSEC_DETECTOR_AUTH_TOKEN_FILE';
/** A token file larger than this is not a token file. */
const MAX_TOKEN_FILE_BYTES = 4096;
/** Largest config file read, counted as read (`--config /dev/zero` grew the process to 22 GB). */
const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** Where each flag lands in the file's structure, and its name for error messages. */
const FLAG_PATHS: Record<keyof ConfigFlags, { path: string[]; flag: string; number?: boolean }> = {
  otlpGrpc: { path: ['otlp', 'grpc'], flag: '--otlp-grpc' },
  otlpHttp: { path: ['otlp', 'http'], flag: '--otlp-http' },
  rules: { path: ['rules'], flag: '--rules' },
  state: { path: ['state'], flag: '--state' },
  alertmanager: { path: ['sinks', 'alertmanager'], flag: '--alertmanager' },
  alertmanagerResendInterval: {
    path: ['sinks', 'alertmanager_resend_interval'],
    flag: '--alertmanager-resend-interval',
  },
  webhook: { path: ['sinks', 'webhook'], flag: '--webhook' },
  alerts: { path: ['sinks', 'alerts'], flag: '--alerts' },
  otlpAlerts: { path: ['sinks', 'otlp_alerts'], flag: '--otlp-alerts' },
  allowedLateness: { path: ['allowed_lateness'], flag: '--allowed-lateness' },
  queueCapacity: { path: ['queue_capacity'], flag: '--queue-capacity', number: true },
  maxOpenIncidentsPerRule: {
    path: ['max_open_incidents_per_rule'],
    flag: '--max-open-incidents-per-rule',
    number: true,
  },
  maxOverflowIncidentsPerRule: {
    path: ['max_overflow_incidents_per_rule'],
    flag: '--max-overflow-incidents-per-rule',
    number: true,
  },
  shutdownTimeout: { path: ['shutdown_timeout'], flag: '--shutdown-timeout' },
  logLevel: { path: ['log_level'], flag: '--log-level' },
  authTokenFile: { path: ['otlp', 'auth_token_file'], flag: '--auth-token-file' },
};

/**
 * The file (YAML or JSON, optional) with the flags applied over it, validated as a whole.
 * Throws ConfigError naming the file and field, or the flag, of every problem.
 * The receivers' bearer token ends up in `otlp.auth_token`: from the file's `auth_token`, else
 * the file named by `auth_token_file` (or `--auth-token-file`), else `$LLMSEC_DETECTOR_AUTH_TOKEN`,
 * else the file named by `$LLMSEC_DETECTOR_AUTH_TOKEN_FILE`; `env` is read here only.
 */
export function loadConfig(
  file: string | undefined,
  flags: ConfigFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): ParsedConfig {
  let raw: Record<string, unknown> = {};
  // Errors name the path as given (--config): its base name alone read the same for conf/ and prod/.
  const source = file === undefined ? 'flags' : file;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileCapped(file, MAX_CONFIG_FILE_BYTES);
    } catch (err) {
      throw new ConfigError(`${source}: cannot read: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = yaml().parse(text, { maxAliasCount: 100 });
    } catch (err) {
      // yaml's text for a second document asks for YAML.parseAllDocuments(): a programmer's hint.
      const message =
        err instanceof yaml().YAMLParseError && err.code === 'MULTIPLE_DOCS'
          ? `more than one YAML document (a second one starts at line ${err.linePos?.[0]?.line ?? '?'}): the config must be one document`
          : (err as Error).message.split('\n')[0];
      throw new ConfigError(`${source}: not valid YAML: ${message}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc))
        throw new ConfigError(`${source}: want a mapping at the top level`);
      raw = doc as Record<string, unknown>;
    }
    const flagged = new Set(
      (Object.keys(flags) as (keyof ConfigFlags)[])
        .filter((k) => flags[k] !== undefined)
        .map((k) => FLAG_PATHS[k].path.join('.')),
    );
    resolveFilePaths(raw, dirname(file), source, flagged);
  }
  const fromFlag = new Map<string, string>();
  for (const key of Object.keys(flags) as (keyof ConfigFlags)[]) {
    const value = flags[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    const spec = FLAG_PATHS[key];
    let v: unknown = value;
    if (spec.number) {
      // Decimal digits only (every numeric flag is a count): Number() also took 0x10, 1e3 and
      // ' 100', another count than the one typed, or a quoting slip passed silently.
      if (typeof value !== 'string' || !/^-?[0-9]{1,15}$/.test(value))
        throw new ConfigError(
          `${spec.flag}: want a whole number in decimal digits, got ${JSON.stringify(value)}`,
        );
      v = Number(value);
    }
    setPath(raw, spec.path, v);
    fromFlag.set(spec.path.join('.'), spec.flag);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => describe(issue, source, fromFlag));
    throw new ConfigError(problems.join('\n'));
  }
  const config = result.data;
  const token = resolveAuthToken(
    config.otlp,
    env,
    fromFlag.get('otlp.auth_token_file') ?? `${source}: field "otlp.auth_token_file"`,
  );
  if (token !== undefined) config.otlp.auth_token = token;
  return config;
}

/**
 * The file's own paths are relative to its directory (flags, applied after, keep theirs relative
 * to the working directory): `--config /etc/llmsec/detector.yaml` with `rules: rules.yaml` reads
 * /etc/llmsec/rules.yaml from anywhere. Values of the wrong type are left to the schema.
 * Earlier versions read them relative to the working directory: a path found only there is
 * refused rather than silently replaced (an alerts file written elsewhere would look, to what
 * tails the old one, like no more alerts).
 */
const FILE_PATHS: readonly (readonly string[])[] = [
  ['rules'],
  ['sinks', 'alerts'],
  ['otlp', 'auth_token_file'],
];

function resolveFilePaths(
  raw: Record<string, unknown>,
  dir: string,
  source: string,
  flagged: ReadonlySet<string>,
): void {
  for (const path of FILE_PATHS) {
    if (flagged.has(path.join('.'))) continue; // a flag replaces it: not read, not judged
    let parent: unknown = raw;
    for (const key of path.slice(0, -1))
      parent =
        parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
    if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) continue;
    const holder = parent as Record<string, unknown>;
    const leaf = path[path.length - 1]!;
    const value = holder[leaf];
    if (typeof value !== 'string' || value === '' || value === '-' || isAbsolute(value)) continue;
    const beside = join(dir, value);
    const oldMeaning = resolve(value);
    if (resolve(beside) !== oldMeaning && !existsSync(beside) && existsSync(oldMeaning)) {
      throw new ConfigError(
        `${source}: field "${path.join('.')}": ${value} is relative to this file's directory ` +
          `(${resolve(beside)}, not found), no longer to the working directory (${oldMeaning}): ` +
          'give that absolute path, or move the file',
      );
    }
    holder[leaf] = beside;
  }
}

function resolveAuthToken(
  otlp: ParsedConfig['otlp'],
  env: NodeJS.ProcessEnv,
  fileField: string,
): string | undefined {
  if (otlp.auth_token !== undefined) return otlp.auth_token;
  if (otlp.auth_token_file !== undefined) return readTokenFile(otlp.auth_token_file, fileField);
  const inline = setValue(env, AUTH_TOKEN_ENV);
  if (inline !== undefined) return checkToken(inline, AUTH_TOKEN_ENV);
  const envFile = setValue(env, AUTH_TOKEN_FILE_ENV);
  if (envFile !== undefined) return readTokenFile(envFile, AUTH_TOKEN_FILE_ENV);
  return undefined;
}

/**
 * A token variable's value, trimmed; undefined when unset. Set but empty is refused: it took
 * the receivers' authentication off without a word, and the likelier meaning is a secret that
 * was meant to be passed and was not (compose's `${TOKEN}` with TOKEN unset is "").
 */
function setValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new ConfigError(`${name}: set but empty; unset it to run without a token`);
  return value.trim();
}

/** The token in `path`, surrounding whitespace (a trailing newline) ignored. */
function readTokenFile(path: string, where: string): string {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_TOKEN_FILE_BYTES)
      throw new Error(`${size} bytes; a token file holds the token only (at most ${MAX_TOKEN_FILE_BYTES})`);
    // stat() says 0 for a FIFO or a device: the bytes read are counted too.
    text = readFileCapped(path, MAX_TOKEN_FILE_BYTES);
  } catch (err) {
    throw new ConfigError(`${where}: cannot read ${path}: ${(err as Error).message}`);
  }
  return checkToken(text.trim(), `${where} (${path})`);
}

function checkToken(token: string, where: string): string {
  const checked = bearerToken.safeParse(token);
  if (!checked.success) throw new ConfigError(`${where}: ${checked.error.issues[0]!.message}`);
  return token;
}

function describe(issue: z.core.$ZodIssue, source: string, fromFlag: Map<string, string>): string {
  const path = issue.path.map(String);
  for (let n = path.length; n > 0; n--) {
    const flag = fromFlag.get(path.slice(0, n).join('.'));
    if (flag !== undefined) return `${flag}: ${issue.message}`;
  }
  if (issue.code === 'unrecognized_keys') {
    const where = path.length > 0 ? ` in "${path.join('.')}"` : '';
    return `${source}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}`;
  }
  if (path.length === 0) return `${source}: ${issue.message}`;
  return `${source}: field "${path.join('.')}": ${issue.message}`;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = o[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}
