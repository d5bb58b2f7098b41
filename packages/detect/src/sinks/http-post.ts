import { errorType, untraced } from '@llmsec/core/internal';

/** The subset of `fetch` the HTTP sinks use; injectable so tests need no server. */
export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; text?: () => Promise<string> }>;

/** A failed delivery. `retryable` is false when sending the same request again cannot help. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  readonly retryable: boolean;
  /** Low-cardinality reason, e.g. `http_503` or the error class name: for counters and logs. */
  readonly type: string;

  constructor(message: string, type: string, retryable: boolean) {
    super(message);
    this.type = type;
    this.retryable = retryable;
  }
}

/**
 * POSTs a JSON body. Resolves on 2xx; otherwise throws DeliveryError. 4xx answers are final
 * (the receiver rejected the payload itself) except 408 and 429, which ask to try later;
 * 5xx, network errors and timeouts are retryable.
 */
export async function postJson(
  fetchFn: FetchLike,
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<void> {
  let status: number;
  let text = '';
  try {
    // Our own I/O: outside the user's trace and baggage (core's untraced), so an http / fetch
    // instrumentation neither makes it a span of whichever request raised the alert nor sends
    // that request's traceparent and baggage (user.id, session.id) to the receiver.
    const res = await untraced(() =>
      fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal,
      }),
    );
    status = res.status;
    // Reading the body also frees the connection for reuse.
    if (res.text) text = await res.text();
  } catch (err) {
    const type = errorType(err);
    const message = err instanceof Error ? err.message : String(err);
    throw new DeliveryError(`POST ${url} failed: ${message}`, type, true);
  }
  if (status >= 200 && status < 300) return;
  const retryable = status >= 500 || status === 408 || status === 429;
  throw new DeliveryError(
    `POST ${url} answered ${status}: ${text.slice(0, 200)}`,
    `http_${status}`,
    retryable,
  );
}

/** The URL without user info, for messages (credentials never reach logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
