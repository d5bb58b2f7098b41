/**
 * `new Date(ms).toISOString()`, for the event's `timestamp`, with the last result remembered.
 * toISOString formats in the runtime (~460 ns CPU per call on Node 24 on the development
 * machine), and an instrumented call emits its one event in a new millisecond almost every
 * time, so remembering the last millisecond alone rarely helps there. The `YYYY-MM-DDTHH:MM:`
 * part is therefore kept per minute and the seconds and milliseconds are appended from two
 * tables. The same string for every integer ms in [0, 253402300800000) (1970 to 9999, where
 * toISOString writes a four-digit year); any other time goes to toISOString.
 */
const MINUTE_MS = 60_000;
/** 10000-01-01T00:00:00.000Z: from there toISOString writes a six-digit year. */
const FAST_END_MS = 253_402_300_800_000;
const SECONDS = Array.from({ length: 60 }, (_, s) => `${String(s).padStart(2, '0')}.`);
const MILLIS = Array.from({ length: 1000 }, (_, m) => `${String(m).padStart(3, '0')}Z`);

/**
 * The times an event's `timestamp` can hold: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
 * RFC 3339 (docs/formats.md) has four-digit years; toISOString writes any other as +YYYYYY or
 * -YYYYYY, which every reader (llmsec replay, test-rules, core's decodeEvent, the detector)
 * refuses as a bad timestamp.
 */
const FIRST_RFC3339_MS = -62_167_219_200_000;
const LAST_RFC3339_MS = FAST_END_MS - 1;

/** Whether isoTime(ms) is an RFC 3339 timestamp (a four-digit year); false for NaN. */
export function isRfc3339Time(ms: number): boolean {
  return ms >= FIRST_RFC3339_MS && ms <= LAST_RFC3339_MS;
}

let minuteStart = Number.NaN;
let minutePrefix = '';
let lastMs = Number.NaN;
let lastIso = '';

export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  let iso: string;
  if (Number.isInteger(ms) && ms >= 0 && ms < FAST_END_MS) {
    const inMinute = ms % MINUTE_MS;
    const start = ms - inMinute;
    if (start !== minuteStart) {
      minutePrefix = new Date(start).toISOString().slice(0, 17);
      minuteStart = start;
    }
    const seconds = Math.floor(inMinute / 1000);
    iso = minutePrefix + (SECONDS[seconds] as string) + (MILLIS[inMinute - seconds * 1000] as string);
  } else {
    iso = new Date(ms).toISOString();
  }
  lastMs = ms;
  lastIso = iso;
  return iso;
}
