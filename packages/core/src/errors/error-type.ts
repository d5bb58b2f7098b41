/**
 * One low-cardinality `error.type` / `error_type` label for every llmsec package.
 *
 * Never the message: messages carry ids, prompt text and addresses, and are unbounded. The
 * label is drawn, in order, from:
 * 1. the error's `name` when it says more than `Error` (`TypeError`, a subclass that sets
 *    `name`, a DOMException's `AbortError`);
 * 2. its constructor's name when that says more (client libraries such as `openai` keep
 *    `name === 'Error'` on `RateLimitError`, `InternalServerError`, `APIUserAbortError`);
 *    a failed `fetch` (undici's `TypeError` whose cause carries a system error code) is
 *    labelled by that code, e.g. `ECONNREFUSED`, which says what went wrong;
 * 3. a Node system error code (`ECONNREFUSED`, `ERR_STREAM_PREMATURE_CLOSE`);
 * 4. an HTTP status (`http_429`) on otherwise anonymous error objects;
 * 5. `Error`, or the JavaScript type for a non-object (`string`), `unknown` for null/undefined.
 * The result is clipped to 64 characters of `[A-Za-z0-9_.:-]`, so even an odd `name` stays a
 * short, safe label. Never throws (a hostile getter yields `unknown`).
 */
export function errorType(err: unknown): string {
  try {
    if (err === null || err === undefined) return 'unknown';
    if (typeof err !== 'object' && typeof err !== 'function') return typeof err;
    const e = err as {
      name?: unknown;
      constructor?: { name?: unknown };
      code?: unknown;
      status?: unknown;
      cause?: unknown;
    };
    const name = specific(e.name);
    if (name !== undefined) {
      if (name === 'TypeError')
        return systemCode((e.cause as { code?: unknown } | null | undefined)?.code) ?? name;
      return name;
    }
    const ctor = specific(typeof e.constructor === 'function' ? e.constructor.name : undefined);
    if (ctor !== undefined) return ctor;
    const code = systemCode(e.code);
    if (code !== undefined) return code;
    const status = e.status;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599)
      return `http_${status}`;
    return err instanceof Error ? 'Error' : 'object';
  } catch {
    return 'unknown';
  }
}

const MAX_CHARS = 64;
const GENERIC = new Set(['', 'Error', 'Object', 'Function']);
const SYSTEM_CODE = /^(?:E[A-Z0-9]{2,31}|ERR_[A-Z0-9_]{1,60})$/;

/** A name that says more than "Error", made label-safe, or undefined. */
function specific(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = labelSafe(value);
  return GENERIC.has(clean) ? undefined : clean;
}

function systemCode(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_CHARS && SYSTEM_CODE.test(value)
    ? value
    : undefined;
}

/** Keeps [A-Za-z0-9_.:-], at most 64 characters; linear in the (clipped) input. */
function labelSafe(value: string): string {
  const head = value.length > MAX_CHARS * 4 ? value.slice(0, MAX_CHARS * 4) : value;
  return head.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, MAX_CHARS);
}
