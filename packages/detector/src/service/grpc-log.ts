import { createRequire } from 'node:module';
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log.ts';

type GrpcLogger = Partial<Console>;

/**
 * @grpc/grpc-js writes its own log lines (a failed bind: "E No address added out of total 1
 * resolved") with console.error, plain text on the stderr that is the service's JSON log.
 * They go to the service's logger instead, as `grpc-js` lines at the level grpc-js gave them
 * (its errors as `warn`: none stops the service; which it logs is GRPC_VERBOSITY's choice,
 * ERROR by default). grpc-js has one logger per process (a global of that package): the
 * detector's from its start to its close, then the one in place before (the host's, when the
 * detector runs inside an application; a logger the host set meanwhile is left in place), so the host's own gRPC lines are not in a stopped
 * detector's log. Several detectors in one process: the latest running one's.
 */
export function routeGrpcLog(logger: Logger): () => void {
  if (active.length === 0) before = currentGrpcLogger();
  const line =
    (level: 'debug' | 'info' | 'warn') =>
    (...args: unknown[]): void =>
      logger[level]('grpc-js', { message: format(...args) });
  const routed: GrpcLogger = { error: line('warn'), info: line('info'), debug: line('debug') };
  active.push(routed);
  grpc.setLogger(routed);
  return function releaseGrpcLog(): void {
    const i = active.indexOf(routed);
    if (i === -1) return;
    active.splice(i, 1);
    // Only when grpc-js still has a detector's logger: one the host set meanwhile stays.
    const current = currentGrpcLogger();
    if (current !== undefined && current !== routed && !active.includes(current)) return;
    const next = active.at(-1) ?? before;
    if (next !== undefined) grpc.setLogger(next);
  };
}

/** The detectors' loggers in the order they started; the last is grpc-js's. */
const active: GrpcLogger[] = [];
/** grpc-js's logger when the first of them started. */
let before: GrpcLogger | undefined;

/**
 * grpc-js's logger in place now. Its public API sets the logger but does not read it: read from
 * its logging module (1.x keeps it at build/src/logging.js). Undefined when that is gone: the
 * detector's logger then stays after its close, as it did before this was read.
 */
function currentGrpcLogger(): GrpcLogger | undefined {
  try {
    const logging = createRequire(import.meta.url)('@grpc/grpc-js/build/src/logging.js') as {
      getLogger?: () => GrpcLogger;
    };
    return typeof logging.getLogger === 'function' ? logging.getLogger() : undefined;
  } catch {
    return undefined;
  }
}
