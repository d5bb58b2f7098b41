/**
 * The shortest measured time the replay summary prints a rate for. Under it the time is mostly
 * the clock's granularity and the start-up around the loop: a short input's CPU time can read
 * 0 µs, and lines / max(t, 1e-9) printed "12000000000 lines per CPU second". 0.1 s is 50 steps
 * of the summary's 0.01 s display, so a printed rate is within 2% of the printed time's.
 */
export const MIN_RATE_SECONDS = 0.1;

/** ` (N unit)`, or '' when `seconds` is too short to support a rate. */
export function rateText(count: number, seconds: number, unit: string): string {
  return seconds >= MIN_RATE_SECONDS ? ` (${Math.round(count / seconds)} ${unit})` : '';
}
