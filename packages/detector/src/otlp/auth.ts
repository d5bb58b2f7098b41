// Optional shared-token authentication for both receivers (DESIGN: "endpoints that accept
// telemetry can require a token"): `Authorization: Bearer <token>`, the header the Collector's
// otlp / otlphttp exporters send from their `headers` setting. The scheme is matched without
// regard to case (RFC 9110 §11.1: `bearer x` is the same credential as `Bearer x`), the token
// exactly and in constant time.
import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';

/** A checker for `Authorization` values, or undefined when no token is configured. */
export function bearerChecker(
  token: string | undefined,
  where: string,
): ((authorization: unknown) => boolean) | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || token.length === 0 || /[\s\x00-\x1f]/.test(token)) {
    throw new Error(
      `${where}: authToken must be a non-empty string without whitespace or control characters`,
    );
  }
  const expected = Buffer.from(token, 'utf8');
  return (authorization) => {
    if (typeof authorization !== 'string') return false;
    const credentials = /^bearer +/i.exec(authorization);
    if (credentials === null) return false;
    const got = Buffer.from(authorization.slice(credentials[0].length), 'utf8');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
}
