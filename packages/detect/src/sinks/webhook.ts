import { encodeAlert, type Alert } from '@llmsec/core';
import { DeliveryQueue } from './delivery-queue.ts';
import { postJson, redactUrl } from './http-post.ts';
import {
  httpUrl,
  resolveHttpDelivery,
  type HttpDeliveryOptions,
  type ResolvedHttpDelivery,
} from './http-options.ts';
import { notificationCounter } from './notification-counter.ts';
import type { AlertSink } from './types.ts';
import { sinkErrors } from './sink-errors.ts';

export interface WebhookSinkOptions extends HttpDeliveryOptions {
  /** Receives one POST per notification, the body being the alert JSONL object. */
  url: string;
  /** The `sink` attribute of `llmsec.alert.notifications`. @default 'webhook' */
  name?: string;
}

/**
 * For users without Alertmanager: POSTs each firing and each resolve as one JSON object, the
 * alert format of docs/formats.md (core `encodeAlert`), with the same bounded queue
 * and retries as the Alertmanager sink. Firing and resolve are separate notifications here
 * (a plain receiver has no alert state of its own), so the queue keys by id *and* status;
 * the same notification queued twice while the receiver is down is delivered once.
 * No re-sends: a webhook is told once.
 */
export class WebhookSink implements AlertSink {
  readonly name: string;
  private readonly delivery: ResolvedHttpDelivery;
  private readonly queue: DeliveryQueue<string>;
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: WebhookSinkOptions) {
    this.name = options.name ?? 'webhook';
    this.delivery = resolveHttpDelivery(options, 'WebhookSink');
    const url = httpUrl('WebhookSink', 'url', options.url).toString();
    const { fetch, headers } = this.delivery;
    this.queue = new DeliveryQueue<string>({
      ...this.delivery,
      target: redactUrl(url),
      maxBatch: 1,
      record: notificationCounter(this.delivery.meter, this.name),
      deliver: async (batch, signal) => {
        for (const body of batch) await postJson(fetch, url, body, headers, signal);
      },
    });
  }

  send(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    try {
      this.queue.enqueue(`${alert.alert_id}/${alert.status}`, encodeAlert(alert));
    } catch (err) {
      sinkErrors.report('webhook.send', err);
    }
  }

  /** Alert lines queued and not yet posted or given up on. */
  get pendingCount(): number {
    return this.queue.size;
  }

  async forceFlush(): Promise<void> {
    await this.queue.flush(this.delivery.flushTimeoutMs);
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.queue.shutdown(this.delivery.flushTimeoutMs);
    return this.shutdownPromise;
  }
}
