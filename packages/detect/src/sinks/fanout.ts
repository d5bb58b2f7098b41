import { diag, type DiagLogger } from '@opentelemetry/api';
import type { Alert } from '@llmsec/core';
import type { AlertSink, FleetIncidentCheck } from './types.ts';

export interface FanoutSinkOptions {
  sinks: AlertSink[];
  /** @default 'fanout' */
  name?: string;
}

/** Sends each alert to several sinks; one sink failing (even throwing, against its contract) does not stop the others. */
export class FanoutSink implements AlertSink {
  readonly name: string;
  private readonly sinks: readonly AlertSink[];
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: FanoutSinkOptions) {
    if (!Array.isArray(options.sinks)) throw new Error('FanoutSink: sinks must be an array of AlertSink');
    this.sinks = [...options.sinks];
    this.name = options.name ?? 'fanout';
  }

  send(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    for (const sink of this.sinks) {
      try {
        sink.send(alert);
      } catch (err) {
        report(diag, sink, 'send', err);
      }
    }
  }

  update(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    for (const sink of this.sinks) {
      try {
        sink.update?.(alert);
      } catch (err) {
        report(diag, sink, 'update', err);
      }
    }
  }

  /** Handed on to every sink that takes it (an AlertmanagerSink inside a fanout re-sends too). */
  useFleet(fleet: FleetIncidentCheck): void {
    for (const sink of this.sinks) {
      try {
        sink.useFleet?.(fleet);
      } catch (err) {
        report(diag, sink, 'useFleet', err);
      }
    }
  }

  /** The sum over the sinks that count their pending deliveries. */
  get pendingCount(): number {
    let n = 0;
    for (const sink of this.sinks) n += sink.pendingCount ?? 0;
    return n;
  }

  async forceFlush(): Promise<void> {
    await this.each('forceFlush');
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.each('shutdown');
    return this.shutdownPromise;
  }

  private async each(method: 'forceFlush' | 'shutdown'): Promise<void> {
    await Promise.all(
      this.sinks.map(async (sink) => {
        try {
          await sink[method]();
        } catch (err) {
          report(diag, sink, method, err);
        }
      }),
    );
  }
}

function report(logger: DiagLogger, sink: AlertSink, what: string, err: unknown): void {
  logger.error(`llmsec FanoutSink: sink ${sink.name} failed in ${what}`, err);
}
