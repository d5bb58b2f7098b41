import { diag } from '@opentelemetry/api';
import { PrometheusSerializer, type PrometheusExporter } from '@opentelemetry/exporter-prometheus';

/**
 * The Prometheus text of the detector's metrics, rendered single-flight and shared for the rest
 * of the event-loop turn: every `GET /metrics` that arrives while a render is under way, or later
 * in the same turn (the poll phase hands over the data of every ready connection in one turn),
 * gets that render's page. A flood of scrapes then costs one collect + serialize per loop turn,
 * not one per request. The page is dropped at the turn's check phase (setImmediate), so a scrape
 * that arrives after an export was answered (a later turn) shows it: no time-based cache, which
 * would make "export, then scrape" read a stale count for up to its age. Prometheus scrapes
 * every 15-60 s; sharing matters only under a flood.
 */
export class MetricsPage {
  private readonly serializer = new PrometheusSerializer(); // the exporter's defaults
  private inflight: Promise<string> | undefined;
  /** Renders started (collect + serialize), for tests and benches. */
  renders = 0;

  private readonly exporter: PrometheusExporter;

  constructor(exporter: PrometheusExporter) {
    this.exporter = exporter;
  }

  /** The page; shares the render under way or done this turn, if any. Rejects only if collection itself fails. */
  render(): Promise<string> {
    if (this.inflight !== undefined) return this.inflight;
    this.renders++;
    const p = this.exporter.collect().then(({ resourceMetrics, errors }) => {
      if (errors.length > 0) diag.error('llmsec detector: metrics collection errors', ...errors);
      return this.serializer.serialize(resourceMetrics);
    });
    const done = (): void => {
      setImmediate(() => {
        if (this.inflight === p) this.inflight = undefined;
      });
    };
    p.then(done, done);
    this.inflight = p;
    return p;
  }
}
