/**
 * Polls `cond` (plain or async) every `pollMs` until it holds, and resolves with the time that
 * took; throws `condition not met within <ms> ms` past `ms`. For what another process, a timer
 * or a restarted server brings about: a bound on a wait, not a measure of speed.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  pollMs = 10,
): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return Date.now() - start;
}
