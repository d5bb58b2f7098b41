import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { startOtlpGrpcServer, type OtlpGrpcServer } from '../otlp/grpc-server.ts';
import { createOtlpHttpHandler } from '../otlp/http-handler.ts';
import { addressPort, listenAddresses, listenOnAll } from '../otlp/listen-addresses.ts';
import type { DecodeLimits, OtlpIngest, ReceiveReport } from '../otlp/types.ts';
import type { ParsedConfig } from './config-schema.ts';
import { parseHostPort } from './config-schema.ts';
import { createServiceRoutes } from './http-routes.ts';
import { answerNotFound } from './otlp-not-found.ts';
import { admitPipelined } from './pipeline-cap.ts';
import { routeGrpcLog } from './grpc-log.ts';
import type { Logger } from './log.ts';
import type { DetectorMetrics } from './metrics.ts';

/** A whole request head, or the connection is closed (counted as headers_timeout). */
const HEADERS_TIMEOUT_MS = 10_000;
/** otlp.body_timeout's default (createOtlpHttpHandler's too). */
const BODY_TIMEOUT_MS = 10_000;

export interface ReceiversOptions {
  config: ParsedConfig;
  ingest: OtlpIngest;
  metrics: DetectorMetrics;
  ready: () => boolean;
  logger: Logger;
}

export interface Receivers {
  /** `addresses`: where each listens (`address:port`), several for a name resolving to several. */
  readonly http: { host: string; port: number; addresses: readonly string[] };
  readonly grpc: { host: string; port: number; addresses: readonly string[] };
  /**
   * Resolves once no HTTP request is in flight. The listeners stay open meanwhile, so during a
   * drain `/-/ready` keeps answering 503 and new exports 503 / UNAVAILABLE (not connection refused).
   */
  whenIdle(): Promise<void>;
  /** Stops listening and waits for requests in flight (they are answered `unavailable` once ingest stopped). */
  close(): Promise<void>;
  /** Stops listening if not yet done and drops whatever connections are left (after the drain bound). */
  forceClose(): void;
}

/**
 * The two OTLP receivers of the service: OTLP/HTTP on a node:http server that also serves
 * `/-/healthy`, `/-/ready` and `/metrics`, and OTLP/gRPC. Both hand decoded requests to the
 * same OtlpIngest.
 */
export async function startReceivers(options: ReceiversOptions): Promise<Receivers> {
  const { config, ingest, metrics, logger } = options;
  const httpAddr = parseHostPort(config.otlp.http)!;
  const grpcAddr = parseHostPort(config.otlp.grpc)!;
  const observer = (r: ReceiveReport): void => {
    metrics.exportRequest(r.transport, r.signal, r.outcome);
    // Refused by the HTTP receiver's own bounds, before the ingest (which counts its own).
    if (r.refusedBy === 'maxInflightBytes') metrics.refuse(r.signal, 'max_inflight_bytes');
    else if (r.outcome === 'timeout') metrics.refuse(r.signal, 'body_timeout');
    // Only in requests taken: a refused one is sent again and would count twice.
    if (r.outcome === 'accepted') metrics.droppedValues(r.signal, r.droppedValues);
    if (r.outcome === 'invalid' || r.outcome === 'too_large')
      logger.debug('export request refused', {
        transport: r.transport,
        signal: r.signal,
        outcome: r.outcome,
        bytes: r.bytes,
      });
  };
  const o = config.otlp;
  const limits = decodeLimits(o.limits);
  const bodyTimeoutMs = o.body_timeout ?? BODY_TIMEOUT_MS;
  const otlp = createOtlpHttpHandler({
    ingest,
    observer,
    limits,
    bodyTimeoutMs,
    ...defined({
      maxBodyBytes: o.max_body_bytes,
      maxDecompressedBytes: o.max_decompressed_bytes,
      maxInflightBytes: o.max_inflight_bytes,
      minBodyBytesPerSecond: o.min_body_rate,
      authToken: o.auth_token,
    }),
  });
  const routes = createServiceRoutes({
    otlp: (req, res) => {
      if (!otlp(req, res)) answerNotFound(req, res);
    },
    metrics,
    ready: options.ready,
  });
  // Requests in flight (headers received, response not yet finished), for whenIdle().
  let inflight = 0;
  let idleWaiters: (() => void)[] = [];
  const finished = (): void => {
    if (--inflight > 0 || idleWaiters.length === 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const handler = function llmsecDetectorHttp(req: IncomingMessage, res: ServerResponse): void {
    // A connection with more than MAX_PIPELINED_REQUESTS unanswered requests is closed, so a
    // peer that pipelines and never reads cannot queue work and replies without bound.
    if (!admitPipelined(req, res)) return;
    inflight++;
    res.once('close', finished);
    // Not ready (draining): no keep-alive, so a sender's next request opens a connection that
    // the load balancer gives to another replica.
    if (!options.ready()) res.setHeader('connection', 'close');
    routes(req, res);
  };
  const sockets = new Set<Socket>();
  const requestTimeout = Math.max(30_000, HEADERS_TIMEOUT_MS + bodyTimeoutMs + 1_000);
  const makeServer = (): Server => {
    // Node checks the two timeouts every connectionsCheckingInterval (30 s by default): a
    // connection that sends no whole request head would be closed 10-40 s after it opened; 1 s
    // makes that 10-11 s (one pass over the open connections a second). requestTimeout runs
    // from a request's first byte to its body's last, and a connection past it is destroyed
    // unanswered: it must leave the head's time and body_timeout (the handler's 408) room.
    const server = createServer(
      { requestTimeout, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
      handler,
    );
    server.on('connection', (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Counted when it is load shed (a slow or silent sender) or not HTTP at all; a peer's
      // reset, or its close in mid-request (HPE_INVALID_EOF_STATE: an aborted export), is neither.
      const code = err.code ?? '';
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT') metrics.connectionRefused('http', 'headers_timeout');
      else if (code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE')
        metrics.connectionRefused('http', 'malformed');
      socket.destroy();
    });
    return server;
  };
  // A name listens on every address it resolves to (`localhost`: 127.0.0.1 and ::1), one port.
  const httpListening = await listenOnAll(makeServer, await listenAddresses(httpAddr.host), httpAddr.port);
  const servers = httpListening.servers as Server[];
  // An accept failing later (ENOBUFS, ENOMEM...) is an 'error' event: unhandled, it would end the
  // process (the gRPC listeners have the same handler).
  for (const server of servers)
    server.on('error', (err) => logger.error('OTLP/HTTP listener error', { error: err }));
  if (httpListening.unavailable.length > 0)
    logger.warn('OTLP/HTTP not listening on addresses this host does not have', {
      host: httpAddr.host,
      addresses: httpListening.unavailable,
    });
  // A warn line at most once a minute, with the count since the last one: a sender retrying
  // in a loop must not flood the log.
  let refusedLogged = 0;
  let lastRefusedLog = -Infinity;
  const onConnectionRefused = (refused: number): void => {
    metrics.connectionRefused('grpc', 'max_grpc_connections');
    const now = Date.now();
    if (now - lastRefusedLog < 60_000) return;
    lastRefusedLog = now;
    logger.warn('OTLP/gRPC connections refused: max_grpc_connections are open', {
      refused: refused - refusedLogged,
    });
    refusedLogged = refused;
  };
  let grpc: OtlpGrpcServer;
  const releaseGrpcLog = routeGrpcLog(logger);
  try {
    grpc = await startOtlpGrpcServer({
      host: grpcAddr.host,
      port: grpcAddr.port,
      ingest,
      observer,
      limits,
      ...defined({
        maxReceiveMessageBytes: o.max_body_bytes,
        maxConcurrentStreams: o.max_concurrent_streams,
        maxConnections: o.max_grpc_connections,
        authToken: o.auth_token,
      }),
      shutdownTimeoutMs: Math.max(1, Math.floor(config.shutdown_timeout / 2)),
      onConnectionRefused,
      onSilentConnectionClosed: () => metrics.connectionRefused('grpc', 'silent'),
    });
  } catch (err) {
    await Promise.all(servers.map(closeHttp));
    releaseGrpcLog();
    throw new Error(`OTLP/gRPC cannot listen on ${config.otlp.grpc}: ${(err as Error).message}`);
  }
  return {
    http: { host: httpAddr.host, port: httpListening.port, addresses: servers.map(addressPort) },
    grpc: { host: grpcAddr.host, port: grpc.port, addresses: grpc.addresses },
    whenIdle() {
      return inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      // Keep-alive connections would hold server.close() open: idle ones go now, busy ones
      // when their response is written (Node closes them after a response once closing).
      const httpClosed = servers.map(closeHttp);
      for (const server of servers) server.closeIdleConnections();
      await Promise.all([...httpClosed, grpc.close()]);
      releaseGrpcLog();
    },
    forceClose() {
      for (const server of servers) if (server.listening) server.close();
      for (const s of sockets) s.destroy();
      for (const server of servers) server.closeAllConnections();
      void grpc.close(); // idempotent; cancels calls left after its own bound
      releaseGrpcLog(); // idempotent
    },
  };
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function decodeLimits(l: ParsedConfig['otlp']['limits']): DecodeLimits {
  return defined({
    maxRecords: l?.max_records,
    maxAttributes: l?.max_attributes,
    maxStringBytes: l?.max_string_bytes,
    maxDepth: l?.max_depth,
    maxSpanEvents: l?.max_span_events,
  });
}

/** The entries that are set (the receivers' options are optional, not `undefined`-able). */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
