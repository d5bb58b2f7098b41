/**
 * Structured logs: one JSON object per line on stderr (`{"time","level","msg",...fields}`), so
 * a container runtime or Loki can parse them. Writing never throws into the service.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface JsonLoggerOptions {
  /** @default process.stderr */
  stream?: NodeJS.WritableStream;
  /** @default 'info' */
  level?: LogLevel;
  /** Fields on every line (e.g. the replica name). */
  base?: Record<string, unknown>;
  /** @default Date.now */
  now?: () => number;
  /**
   * Most bytes of lines written but not yet taken by the stream since an earlier turn of the
   * event loop (a log reader that stalled: Node writes a stderr pipe asynchronously and would
   * hold every line in memory). Past it lines are dropped and counted; the next line that fits
   * is preceded by one saying how many. One turn's lines may hold 16 times as much: no stream
   * takes anything within a turn, and a sweep resolving thousands of alerts logs one line each.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const min = RANK[options.level ?? 'info'];
  const base = options.base ?? {};
  const now = options.now ?? Date.now;
  const max = options.maxBufferedBytes ?? 1_048_576;
  let buffered = 0;
  let dropped = 0;
  // `buffered` at this turn's first line: more than `max` left from earlier turns is a reader
  // that does not keep up; less, and this turn's burst may hold up to 16 times `max`.
  let heldAtTurnStart: number | undefined;
  const limit = (): number => {
    if (heldAtTurnStart === undefined) {
      heldAtTurnStart = buffered;
      setImmediate(() => (heldAtTurnStart = undefined));
    }
    return heldAtTurnStart > max ? max : max * 16;
  };
  const emit = (text: string): boolean => {
    const bytes = Buffer.byteLength(text);
    if (buffered + bytes > limit()) return false;
    buffered += bytes;
    stream.write(text, () => (buffered -= bytes));
    return true;
  };
  const format = (level: LogLevel, msg: string, fields?: Record<string, unknown>): string =>
    `${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...base, ...fields }, errorReplacer)}\n`;
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < min) return;
    try {
      const line = format(level, msg, fields);
      if (dropped > 0) {
        const note = format('warn', 'log lines dropped: the log reader did not keep up', { dropped });
        if (buffered + Buffer.byteLength(note) + Buffer.byteLength(line) > limit()) {
          dropped++;
          return;
        }
        emit(note);
        dropped = 0;
      }
      if (!emit(line)) dropped++;
    } catch {
      // A log line that cannot be written (closed stream, cyclic field) is not worth a crash.
    }
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

/** Errors serialise as their name and message (JSON.stringify would print `{}`). */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
