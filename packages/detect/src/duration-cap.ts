/**
 * The longest window, quiet period (and replay lateness): 10,000,000 days, ~27,000 years. A Date
 * holds 100,000,000 days either side of 1970 as a point in time, and an event's time plus a
 * window or quiet period must stay one: at 100000000d (a 2026 event plus it is past the range)
 * the Redis state decoded each incident of the rule as damaged (loadableState), listed none as
 * open and dropped them, while memory worked. Events reach 9999-12-31 at most, and 9999 plus
 * this window, quiet period and lateness stays a time.
 */
export const MAX_RULE_DURATION_MS = 864_000_000_000_000;
