import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log.ts';

/**
 * @grpc/grpc-js writes its own log lines (a failed bind: "E No address added out of total 1
 * resolved") with console.error, plain text on the stderr that is the service's JSON log.
 * They go to the service's logger instead, as `grpc-js` lines at the level grpc-js gave them.
 * grpc-js has one logger per process (a global of that package): the detector's, from its start.
 */
export function routeGrpcLog(logger: Logger): void {
  const line =
    (level: 'debug' | 'info' | 'error') =>
    (...args: unknown[]): void =>
      logger[level === 'error' ? 'warn' : level]('grpc-js', { message: format(...args) });
  grpc.setLogger({ error: line('error'), info: line('info'), debug: line('debug') });
}
