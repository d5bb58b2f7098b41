/** HTTP authentication of a sink: basic (RFC 7617) or a bearer token (RFC 6750). */
export type HttpAuth = { basic: { username: string; password: string } } | { bearer: string };

/** The Authorization header for `auth`; throws on an incomplete configuration (construction time only). */
export function authHeaders(auth: HttpAuth | undefined): Record<string, string> {
  if (auth === undefined) return {};
  if ('basic' in auth) {
    const { username, password } = auth.basic;
    if (typeof username !== 'string' || username.length === 0 || username.includes(':')) {
      throw new Error('auth.basic.username must be a non-empty string without ":"');
    }
    if (typeof password !== 'string') throw new Error('auth.basic.password must be a string');
    return { authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}` };
  }
  if ('bearer' in auth) {
    if (typeof auth.bearer !== 'string' || auth.bearer.length === 0) {
      throw new Error('auth.bearer must be a non-empty token');
    }
    return { authorization: `Bearer ${auth.bearer}` };
  }
  throw new Error('auth must be { basic: { username, password } } or { bearer: token }');
}
