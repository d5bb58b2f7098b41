import type { IncomingMessage, ServerResponse } from 'node:http';
import { Buffer } from 'node:buffer';
import { GrpcCode, encodeStatus, statusJson } from '../otlp/responses.ts';

/** The longest part of a request's path repeated in the answer (the path is the sender's). */
const MAX_PATH_ECHO = 64;

/**
 * The service's answer to a path its routes and the OTLP receiver do not take. A path under
 * `/v1/` is most likely an OTLP exporter pointed at the detector for a signal it does not
 * receive (a metrics exporter posting to `/v1/metrics`, the usual case): it gets the 404 the
 * Collector gives a signal without a pipeline, but, as the receiver's other refusals, with a
 * `google.rpc.Status` body (protobuf or JSON as the request was; UNIMPLEMENTED, gRPC's answer
 * to a service it does not serve) whose message names the paths taken, which the OTel
 * exporters put in their export error. Any other path keeps the plain-text 404.
 */
export function answerNotFound(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (!path.startsWith('/v1/')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const shown = path.length > MAX_PATH_ECHO ? `${path.slice(0, MAX_PATH_ECHO)}...` : path;
  const message =
    `no OTLP receiver at ${shown}: the llmsec detector takes logs and traces only ` +
    '(POST /v1/logs, POST /v1/traces); send other signals to a Collector';
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  const protobuf = type === 'application/x-protobuf';
  const body = protobuf
    ? encodeStatus(GrpcCode.UNIMPLEMENTED, message)
    : statusJson(GrpcCode.UNIMPLEMENTED, message);
  res
    .writeHead(404, {
      'Content-Type': protobuf ? 'application/x-protobuf' : 'application/json',
      'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    })
    .end(body);
}
