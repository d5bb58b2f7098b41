import { encodeAlert, type Alert } from '@llmsec/core';
import type { AlertSink } from './types.ts';
import { sinkErrors } from './sink-errors.ts';

export interface ConsoleSinkOptions {
  /** Where the alert JSONL lines go. @default process.stdout */
  stream?: NodeJS.WritableStream;
  /** @default 'console' */
  name?: string;
}

/**
 * Writes each firing and resolve as one alert JSONL line (docs/formats.md section 2):
 * what `llmsec replay` prints and what jq, Loki or a SIEM can read.
 */
export class ConsoleSink implements AlertSink {
  readonly name: string;
  private readonly stream: NodeJS.WritableStream;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: ConsoleSinkOptions = {}) {
    this.name = options.name ?? 'console';
    this.stream = options.stream ?? process.stdout;
  }

  send(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    try {
      this.stream.write(`${encodeAlert(alert)}\n`);
    } catch (err) {
      sinkErrors.report('console.write', err);
    }
  }

  /** Waits until the stream has handed its buffered lines to the OS. */
  async forceFlush(): Promise<void> {
    try {
      // An empty write calls back after everything written before it (or with the stream's error).
      await new Promise<void>((resolve) => this.stream.write('', () => resolve()));
    } catch (err) {
      sinkErrors.report('console.flush', err);
    }
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.forceFlush();
    return this.shutdownPromise;
  }
}
