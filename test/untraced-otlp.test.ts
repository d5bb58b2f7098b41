/**
 * setupLlmsec's OTLP export never joins the user's trace nor carries the user's baggage, over
 * each protocol, in a host app that instruments its outgoing I/O. An http instrumentation
 * (@opentelemetry/instrumentation-http) starts its client span under, and injects,
 * `context.active()` at the moment `http.request` is called; a gRPC one
 * (@opentelemetry/instrumentation-grpc) does the same at the client's call, into its metadata.
 * The OTLP/HTTP exporters call `http.request` (not fetch: an undici hook never sees them), the
 * gRPC exporter calls a grpc-js client's method. This test watches those two points (node's
 * `http.client.request.created` channel, the grpc-js channel's createCall), records the active
 * context there and injects it as those instrumentations would. Not the http2 stream under a
 * gRPC call: grpc-js may open it from its connection's callbacks, in whatever context the
 * (pooled) connection was made, and no OTel JS instrumentation works at that level.
 *
 * The controls make the check able to fail: the same upstream exporter, called inside the user's
 * request without llmsec's wrapper, is seen at the same point with the user's span and baggage.
 */
import { Buffer } from 'node:buffer';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type ClientRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  ExportResultCode,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
  type ExportResult,
} from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setupLlmsec, type OtlpProtocol } from '@llmsec/sdk';
import { waitUntil } from './support/ports.ts';

/** One outgoing I/O seen at an instrumentation point, with the context active there. */
interface Seen {
  where: 'http.request' | 'grpc call';
  target: string;
  traceId: string | undefined;
  baggage: string[];
}

const seen: Seen[] = [];
/** What reached the receivers: HTTP headers and gRPC metadata. */
const httpHeaders: IncomingHttpHeaders[] = [];
const grpcMetadata: Array<Record<string, unknown>> = [];

const contextManager = new AsyncLocalStorageContextManager();
const hostSpans = new InMemorySpanExporter();
const host = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: hostSpans })] });

function record(where: Seen['where'], target: string): Context {
  const active = context.active();
  seen.push({
    where,
    target,
    traceId: trace.getSpanContext(active)?.traceId,
    baggage: (propagation.getBaggage(active)?.getAllEntries() ?? []).map(([k]) => k),
  });
  return active;
}

/** instrumentation-http: a client span under the active context, and its headers injected. */
function onHttpRequest(message: unknown): void {
  const request = (message as { request: ClientRequest }).request;
  const active = record('http.request', `${request.host}${request.path}`);
  const span = host.getTracer('instrumentation-http').startSpan(`POST ${request.path}`, {}, active);
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(active, span), carrier);
  for (const [name, value] of Object.entries(carrier)) request.setHeader(name, value);
  span.end();
}

/**
 * instrumentation-grpc: a client span under the context active at the call, injected into the
 * call's metadata. A grpc-js client's method reaches the channel's createCall synchronously
 * (the methods are bound to Client.prototype.makeUnaryRequest when the module loads, so that
 * prototype cannot be patched after); the call's start(metadata) then carries the metadata.
 */
type CreateCall = (
  this: unknown,
  ...args: unknown[]
) => { start(metadata: grpc.Metadata, listener: unknown): void };
const channelPrototype = grpc.Channel.prototype as unknown as { createCall: CreateCall };
const originalCreateCall = channelPrototype.createCall;
function patchedCreateCall(this: unknown, ...args: unknown[]): ReturnType<CreateCall> {
  const active = record('grpc call', String(args[0]));
  const call = originalCreateCall.apply(this, args);
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    const span = host.getTracer('instrumentation-grpc').startSpan(String(args[0]), {}, active);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(active, span), carrier);
    for (const [name, value] of Object.entries(carrier)) metadata.set(name, value);
    span.end();
    start(metadata, listener);
  };
  return call;
}

let http: Server;
let httpUrl = '';
let grpcServer: grpc.Server;
let grpcUrl = '';

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  subscribe('http.client.request.created', onHttpRequest);
  channelPrototype.createCall = patchedCreateCall;

  http = createServer((req, res) => {
    httpHeaders.push(req.headers);
    req.resume();
    req.on('end', () => {
      const json = String(req.headers['content-type']).includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  grpcServer = new grpc.Server();
  for (const service of ['trace.v1.TraceService', 'logs.v1.LogsService', 'metrics.v1.MetricsService']) {
    grpcServer.addService(
      {
        Export: {
          path: `/opentelemetry.proto.collector.${service}/Export`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          grpcMetadata.push(call.metadata.getMap());
          callback(null, Buffer.alloc(0));
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  grpcUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  channelPrototype.createCall = originalCreateCall;
  unsubscribe('http.client.request.created', onHttpRequest);
  propagation.disable();
  context.disable();
  await new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  httpHeaders.length = 0;
  grpcMetadata.length = 0;
  hostSpans.reset();
});

/** A user's request in progress in the host app: its recording span and the user's baggage. */
function userRequest(): { ctx: Context; traceId: string } {
  const span = host.getTracer('app').startSpan('POST /chat');
  const baggage = propagation.createBaggage({
    'user.id': { value: 'u-victim' },
    'session.id': { value: 's-1' },
  });
  return {
    ctx: propagation.setBaggage(trace.setSpan(context.active(), span), baggage),
    traceId: span.spanContext().traceId,
  };
}

/** The host's finished spans in the user's trace other than `own` (SimpleSpanProcessor exports async). */
async function userSpansBesides(traceId: string, own: string): Promise<ReadableSpan[]> {
  await host.forceFlush();
  return hostSpans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name !== own);
}
const propagated = (): unknown[] =>
  [
    ...httpHeaders.flatMap((h) => [h.traceparent, h.baggage]),
    ...grpcMetadata.flatMap((m) => [m.traceparent, m.baggage]),
  ].filter((v) => v !== undefined);

const ENDPOINT: Record<OtlpProtocol, () => string> = {
  'http/json': () => httpUrl,
  'http/protobuf': () => httpUrl,
  grpc: () => grpcUrl,
};

describe("setupLlmsec's OTLP export under a host app's http/grpc instrumentation", () => {
  it.each(['http/json', 'http/protobuf', 'grpc'] as const)(
    'control (%s): the upstream exporter called inside the user request is seen there with the user span and baggage',
    async (protocol) => {
      const url = protocol === 'grpc' ? grpcUrl : `${httpUrl}/v1/traces`;
      const exporter =
        protocol === 'grpc'
          ? new GrpcTraceExporter({ url })
          : protocol === 'http/protobuf'
            ? new ProtoTraceExporter({ url })
            : new JsonTraceExporter({ url });
      const user = userRequest();
      const span = host.getTracer('app').startSpan('llm call', {}, user.ctx);
      span.end();
      const finished = span as unknown as ReadableSpan;
      const result = await context.with(
        user.ctx,
        () => new Promise<ExportResult>((resolve) => exporter.export([finished], resolve)),
      );
      await exporter.shutdown();
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      const at = seen;
      expect(at.length).toBeGreaterThan(0);
      expect(at.every((s) => s.traceId === user.traceId && s.baggage.includes('user.id'))).toBe(true);
      expect((await userSpansBesides(user.traceId, 'llm call')).length).toBeGreaterThan(0);
      expect(propagated().length).toBeGreaterThan(0);
    },
  );

  it.each(['http/json', 'http/protobuf', 'grpc'] as const)(
    '%s: every export llmsec makes runs outside the user request: no span in its trace, no baggage sent',
    async (protocol) => {
      const llmsec = setupLlmsec({
        serviceName: 'untraced-otlp',
        otlp: { endpoint: ENDPOINT[protocol](), protocol },
        prometheus: false,
        registerGlobal: false,
      });
      const user = userRequest();
      try {
        await context.with(user.ctx, async () => {
          llmsec.tracerProvider.getTracer('app').startSpan('llm call').end();
          llmsec.events.guardrailBlock({ userId: 'u-victim', layer: 'input', reason: 'test' });
          await llmsec.forceFlush();
        });
        // Traces, logs and metrics each reached the receiver.
        await waitUntil(() => (protocol === 'grpc' ? grpcMetadata.length : httpHeaders.length) >= 3, {
          what: 'three OTLP exports',
        });
      } finally {
        await context.with(user.ctx, () => llmsec.shutdown());
      }
      const at = seen;
      expect(at.length).toBeGreaterThanOrEqual(3);
      expect(at.filter((s) => s.traceId !== undefined || s.baggage.length > 0)).toEqual([]);
      expect(await userSpansBesides(user.traceId, 'POST /chat')).toEqual([]);
      expect(propagated()).toEqual([]);
    },
  );
});
