/**
 * A connection URL for a message (a log line, a terminal, a CI log): its password shown as
 * `***`, the rest as given so an operator can still tell which server it names. Text that is
 * not a URL (a bare HOST:PORT) is returned as it is: it holds no password.
 */
export function urlWithoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
