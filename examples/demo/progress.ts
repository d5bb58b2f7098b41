import type { Writable } from 'node:stream';
import type { Alert } from '@llmsec/core';

/**
 * The live line while the demo runs: on a terminal it is rewritten in place; otherwise a line
 * is printed every few seconds so logs stay readable. Alerts print as they fire.
 */
export class Progress {
  private requests = 0;
  private blocked = 0;
  private refused = 0;
  private alerts = 0;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly out: Writable & { isTTY?: boolean };
  private readonly replicas: number;

  constructor(out: Writable & { isTTY?: boolean }, replicas = 1) {
    this.out = out;
    this.replicas = replicas;
  }

  start(): void {
    this.timer = setInterval(() => this.render(), this.out.isTTY ? 250 : 5000);
    this.timer.unref();
  }

  response(status: number): void {
    this.requests++;
    if (status === 403) this.blocked++;
    else if (status === 429) this.refused++;
  }

  alert(alert: Alert): void {
    if (alert.status !== 'firing') return;
    this.alerts++;
    const who = Object.entries(alert.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    this.clearLine();
    this.out.write(
      `  ALERT ${alert.severity.padEnd(8)} ${alert.rule.padEnd(24)} ${who}  users: ${alert.user_ids.join(', ')}\n`,
    );
    this.render();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.render();
    if (this.out.isTTY) this.out.write('\n');
  }

  private render(): void {
    const seconds = Math.round((Date.now() - this.started) / 1000);
    const text = `  t=${seconds}s ${this.replicas > 1 ? `replicas=${this.replicas} ` : ''}requests=${this.requests} blocked=${this.blocked} 429=${this.refused} alerts=${this.alerts}`;
    if (this.out.isTTY) {
      this.clearLine();
      this.out.write(text);
    } else {
      this.out.write(text + '\n');
    }
  }

  private clearLine(): void {
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
  }
}
