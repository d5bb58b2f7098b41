import type { Alert } from '@llmsec/core';

/**
 * Where alerts go. The engine calls `send` synchronously on the hot path, once per firing and
 * once per resolve (and re-sends are the sink's own business): a sink queues and returns, it
 * never throws and never blocks.
 */
export interface AlertSink {
  readonly name: string;
  send(alert: Alert): void;
  /**
   * Optional: the current state of a firing incident that gained users since it fired (an
   * open incident keeps learning). Not a new firing line: sinks that keep firing alerts to
   * re-send them (Alertmanager) replace their copy; others ignore it. Never throws.
   */
  update?(alert: Alert): void;
  /** Resolves when everything queued so far was delivered or given up on. */
  forceFlush(): Promise<void>;
  /** Flushes, stops timers; later sends are ignored. Idempotent. */
  shutdown(): Promise<void>;
}
