import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DetectorMetrics } from './metrics.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ServiceRoutesOptions {
  /** The OTLP/HTTP handler (POST /v1/logs, /v1/traces); everything not ours goes to it. */
  otlp: RequestListener;
  metrics: DetectorMetrics;
  /** Taking data: accepting and the state store answers. */
  ready: () => boolean;
}

/**
 * The operational routes beside OTLP on the one HTTP port (Prometheus conventions):
 * `GET /-/healthy` (the process serves: liveness), `GET /-/ready` (it takes data: 503 while
 * draining or while its state store is down, so a load balancer sends exports elsewhere),
 * `GET /metrics` (Prometheus text).
 */
export function createServiceRoutes(options: ServiceRoutesOptions): RequestListener {
  const { otlp, metrics, ready } = options;
  return function llmsecDetectorRoutes(req, res) {
    const url = req.url ?? '/';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    if (path === '/-/healthy' || path === '/-/ready' || path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (path === '/metrics') {
        metrics.handle(req, res);
        return;
      }
      const ok = path === '/-/healthy' || ready();
      res
        .writeHead(ok ? 200 : 503, {
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
        })
        .end(ok ? 'OK\n' : 'not ready\n');
      return;
    }
    otlp(req, res);
  };
}
