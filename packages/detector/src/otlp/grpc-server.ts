// OTLP/gRPC receiver (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc): the LogsService
// and TraceService Export methods on @grpc/grpc-js, with hand-built service definitions whose
// (de)serialisers pass bytes through, so decoding (and its errors) happens in the handler and
// maps to INVALID_ARGUMENT instead of grpc-js's generic INTERNAL. grpc-js enforces the
// message size cap, after decompression too (gzip bombs get RESOURCE_EXHAUSTED).
import { Buffer } from 'node:buffer';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { diag } from '@opentelemetry/api';
import { bearerChecker } from './auth.ts';
import { decodeLogs, decodeTraces } from './decode.ts';
import { droppedValues } from './dropped-values.ts';
import { addressPort, listenAddresses, listenOnAll } from './listen-addresses.ts';
import { callIngest, partialSuccess, safeObserver } from './ingest-call.ts';
import { OtlpDecodeError, resolveDecodeLimits } from './limits.ts';
import { GrpcCode, encodeExportResponse, encodeStatus, retrySeconds, type Signal } from './responses.ts';
import type { DecodeLimits, IngestResult, OtlpIngest, ReceiveObserver } from './types.ts';

export interface OtlpGrpcServerOptions {
  /**
   * An IP address, or a name: listened on at every address it resolves to (`localhost`: 127.0.0.1
   * and ::1 where both are), one port for all, one connection cap across them. Every one is
   * exposed (a name with a public address among its records listens there too); those this
   * host does not have are skipped while another listens; a name resolving to a wildcard
   * (`0.0.0.0`, `::`) or to more than 16 addresses is refused.
   * @default '127.0.0.1'
   */
  host?: string;
  /** 0 picks a free port (see the returned `port`). @default 4317 */
  port?: number;
  ingest: OtlpIngest;
  /**
   * Largest request message, compressed or decompressed; larger ones get RESOURCE_EXHAUSTED.
   * @default 4 MiB (gRPC's own default)
   */
  maxReceiveMessageBytes?: number;
  /**
   * Concurrent calls per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): with the message
   * size cap, bounds the memory one connection can tie up (grpc-js buffers a whole message
   * before the handler sees it).
   * @default 4
   */
  maxConcurrentStreams?: number;
  /**
   * Open connections at once; a connection past it is closed as soon as it is accepted (the
   * sender sees UNAVAILABLE and retries). With the two caps above it bounds what unfinished
   * messages hold across all senders: maxConnections × maxConcurrentStreams ×
   * maxReceiveMessageBytes (defaults: 16 × 4 × 4 MiB = 256 MiB). 16, not fewer: each Collector
   * exporter holds one connection, and a fleet's Collectors past the cap would be refused until
   * an operator raised it (a daemonset Collector per node is common).
   * @default 16
   */
  maxConnections?: number;
  /**
   * Called (synchronously, errors caught) each time a connection is closed on arrival because
   * maxConnections were open, with how many have been so far; without it, one diag warning.
   */
  onConnectionRefused?: (refusedSoFar: number) => void;
  /**
   * Called (synchronously, errors caught) each time a connection that sent nothing within
   * min(10 s, maxConnectionAgeMs) is closed, so an operator can count them.
   */
  onSilentConnectionClosed?: () => void;
  /**
   * When set, calls must carry `authorization: Bearer <authToken>` metadata; others get
   * UNAUTHENTICATED.
   * @default undefined (no authentication)
   */
  authToken?: string;
  limits?: DecodeLimits;
  observer?: ReceiveObserver;
  /**
   * How long close() waits for in-flight calls before cancelling them.
   * @default 5_000
   */
  shutdownTimeoutMs?: number;
  /**
   * A connection is asked to go away (HTTP/2 GOAWAY; clients reconnect, calls in flight go on)
   * after this long, ±10%, and closed `maxConnectionAgeGraceMs` later. grpc-js has no deadline
   * for receiving a message: without this, a sender trickling a message a byte a second held
   * its stream, and the bytes buffered so far, for ever (HTTP has bodyTimeoutMs).
   * @default 120_000
   */
  maxConnectionAgeMs?: number;
  /** @default 10_000 */
  maxConnectionAgeGraceMs?: number;
}

export interface OtlpGrpcServer {
  /** The bound port (the chosen one when `port` was 0). */
  readonly port: number;
  /** Where it listens, `address:port` each: several when `host` is a name resolving to several. */
  readonly addresses: readonly string[];
  /** Connections closed on arrival because maxConnections were open. */
  readonly refusedConnections: number;
  /** Connections closed because they sent nothing within min(10 s, maxConnectionAgeMs). */
  readonly silentConnectionsClosed: number;
  /** Stops accepting, lets in-flight calls finish (up to shutdownTimeoutMs), then closes. */
  close(): Promise<void>;
}

const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const TRACES_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const MiB = 1024 * 1024;

function exportMethod(path: string): grpc.MethodDefinition<Buffer, Uint8Array> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    responseDeserialize: (bytes: Buffer) => bytes,
  };
}

/** Starts the OTLP/gRPC server; resolves once it listens. */
export async function startOtlpGrpcServer(options: OtlpGrpcServerOptions): Promise<OtlpGrpcServer> {
  if (!options?.ingest) throw new Error('startOtlpGrpcServer: options.ingest is required');
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 4317;
  const maxBytes = options.maxReceiveMessageBytes ?? 4 * MiB;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5_000;
  const maxConcurrentStreams = options.maxConcurrentStreams ?? 4;
  const maxConnections = options.maxConnections ?? 16;
  const maxConnectionAgeMs = options.maxConnectionAgeMs ?? 120_000;
  const maxConnectionAgeGraceMs = options.maxConnectionAgeGraceMs ?? 10_000;
  for (const [name, value] of Object.entries({ maxConnectionAgeMs, maxConnectionAgeGraceMs })) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 2_147_483_647) {
      throw new Error(`startOtlpGrpcServer: ${name} must be a positive integer of ms, got ${String(value)}`);
    }
  }
  for (const [name, value] of Object.entries({ maxConcurrentStreams, maxConnections })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`startOtlpGrpcServer: ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new Error(
      `startOtlpGrpcServer: maxReceiveMessageBytes must be a positive integer, got ${String(maxBytes)}`,
    );
  }
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new Error(`startOtlpGrpcServer: port must be 0..65535, got ${String(requestedPort)}`);
  }
  const limits = resolveDecodeLimits(options.limits);
  const authorized = bearerChecker(options.authToken, 'startOtlpGrpcServer');
  const { ingest, observer } = options;

  const report = safeObserver(observer);

  const exportHandler =
    (signal: Signal): grpc.handleUnaryCall<Buffer, Uint8Array> =>
    (call, callback) => {
      const bytes = call.request;
      const base = {
        transport: 'grpc' as const,
        signal,
        records: 0,
        rejected: 0,
        bytes: bytes.length,
        droppedValues: 0,
      };
      if (authorized !== undefined && !authorized(call.metadata.get('authorization')[0])) {
        callback({ code: GrpcCode.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
        report({ ...base, outcome: 'unauthenticated' });
        return;
      }
      let records: number;
      let result: IngestResult;
      const droppedBefore = droppedValues.count;
      try {
        if (signal === 'logs') {
          const decoded = decodeLogs(bytes, 'protobuf', limits);
          records = decoded.length;
          result = callIngest(() => ingest.logs(decoded));
        } else {
          const decoded = decodeTraces(bytes, 'protobuf', limits);
          records = decoded.length;
          result = callIngest(() => ingest.traces(decoded));
        }
      } catch (err) {
        if (!(err instanceof OtlpDecodeError))
          diag.error('llmsec detector: OTLP decode failed unexpectedly', err);
        const message = err instanceof OtlpDecodeError ? err.message : 'request does not decode';
        callback({ code: GrpcCode.INVALID_ARGUMENT, details: message });
        report({ ...base, outcome: 'invalid' });
        return;
      }
      base.records = records;
      base.droppedValues = droppedValues.count - droppedBefore;
      if (result.kind === 'accepted') {
        const { rejected, message } = partialSuccess(result, records);
        const reply = (): void => {
          callback(null, encodeExportResponse(rejected, message));
          report({ ...base, rejected, outcome: 'accepted' });
        };
        // Taken either way; answered once the service says so (its events shipped: see IngestResult).
        if (result.settled !== undefined) void result.settled.then(reply, reply);
        else reply();
        return;
      }
      // RetryInfo in grpc-status-details-bin: the spec makes RESOURCE_EXHAUSTED retryable only
      // when the server says recovery is possible this way; senders also honour its delay.
      const seconds = retrySeconds(result.retryAfterSeconds);
      const overloaded = result.kind === 'overloaded';
      const code = overloaded ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.UNAVAILABLE;
      const details = overloaded ? 'ingest queue full; retry later' : 'detector not ready; retry later';
      const metadata = new grpc.Metadata();
      metadata.set('grpc-status-details-bin', Buffer.from(encodeStatus(code, details, seconds)));
      // gRPC's own server pushback (gRFC A6), honoured by clients with a retry policy.
      metadata.set('grpc-retry-pushback-ms', String(seconds * 1000));
      callback({ code, details, metadata });
      report({ ...base, outcome: overloaded ? 'overloaded' : 'unavailable' });
    };

  const server = new grpc.Server({
    'grpc.max_connection_age_ms': maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': maxConnectionAgeGraceMs,
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': 1 * MiB,
    'grpc.max_concurrent_streams': maxConcurrentStreams,
  });
  server.addService({ Export: exportMethod(LOGS_PATH) }, { Export: exportHandler('logs') });
  server.addService({ Export: exportMethod(TRACES_PATH) }, { Export: exportHandler('traces') });

  // grpc-js's own bindAsync accepts every connection, and each may hold maxConcurrentStreams
  // buffered messages until it ages out: nothing bounded the total (measured: ~400 MiB resident
  // per connection at 100 streams of 4 MiB). So the service listens itself and hands grpc-js
  // only the connections under the cap (Server.createConnectionInjector, grpc-js >= 1.10).
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const open = new Set<Socket>();
  const prefaceTimeoutMs = Math.min(10_000, maxConnectionAgeMs);
  let refused = 0;
  let silentClosed = 0;
  const closeSilent = (socket: Socket): void => {
    socket.destroy();
    silentClosed++;
    try {
      options.onSilentConnectionClosed?.();
    } catch (err) {
      diag.error('llmsec detector: onSilentConnectionClosed threw', err);
    }
  };
  const onConnection = (socket: Socket): void => {
    socket.on('error', () => {}); // a reset by the peer; http2 reports its own
    if (open.size >= maxConnections) {
      refused++;
      if (options.onConnectionRefused !== undefined) {
        try {
          options.onConnectionRefused(refused);
        } catch (err) {
          diag.error('llmsec detector: onConnectionRefused threw', err);
        }
      } else if (refused === 1) {
        // Once, not per connection: a sender retrying in a loop would flood the log.
        diag.warn(
          `llmsec detector: OTLP/gRPC connection refused, ${maxConnections} open (maxConnections); more are refused silently`,
        );
      }
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // grpc-js ages a connection out only once its HTTP/2 session runs, and once http2 has taken
    // the socket, destroying the socket does not close it: a socket that sent nothing held its
    // slot for ever (checked). So a socket is handed on only once it has sent something (http2
    // reads what is already buffered), and closed if it sends nothing within prefaceTimeoutMs.
    const silent = setTimeout(() => closeSilent(socket), prefaceTimeoutMs);
    silent.unref();
    socket.once('close', () => clearTimeout(silent)); // a peer gone (reset) is not counted silent
    socket.once('readable', () => {
      clearTimeout(silent);
      if (!socket.destroyed) injector.injectConnection(socket);
    });
  };
  // A name listens on every address it resolves to (listen-addresses.ts); the connection cap
  // is one across them.
  let listeners: NetServer[];
  let port: number;
  try {
    const listening = await listenOnAll(
      () => createServer({ noDelay: true }, onConnection),
      await listenAddresses(host),
      requestedPort,
    );
    listeners = listening.servers;
    port = listening.port;
    if (listening.unavailable.length > 0)
      diag.warn(
        `llmsec detector: OTLP/gRPC not listening on ${listening.unavailable.join(', ')} (not addresses of this host)`,
      );
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  // An accept failing later (EMFILE...) is an 'error' event: unhandled, it would end the process.
  for (const listener of listeners)
    listener.on('error', (err) => diag.error('llmsec detector: OTLP/gRPC listener error', err));

  let closing: Promise<void> | undefined;
  return {
    port,
    addresses: listeners.map(addressPort),
    get refusedConnections(): number {
      return refused;
    },
    get silentConnectionsClosed(): number {
      return silentClosed;
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const listener of listeners) listener.close();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, shutdownTimeoutMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
