import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Requests one HTTP/1.1 connection may have waiting for their responses (received, response not
 * finished). Node answers pipelined requests in order and parses every request in a data chunk
 * at once, so a peer that sends many requests (`GET /metrics` × 50) and never reads the replies
 * makes the server run every handler and hold every reply in memory. No OTLP exporter, load
 * balancer or Prometheus pipelines (each waits for a response before its next request), so a
 * connection past this many is an abuse and is closed: its queued replies are dropped.
 */
export const MAX_PIPELINED_REQUESTS = 4;

const pending = new WeakMap<Socket, number>();

/**
 * Counts a request against its connection; false (and the connection destroyed) when it is
 * over `max` unanswered requests. The count falls as each response finishes or is abandoned.
 */
export function admitPipelined(
  req: IncomingMessage,
  res: ServerResponse,
  max = MAX_PIPELINED_REQUESTS,
): boolean {
  const socket = req.socket;
  if (socket.destroyed) return false;
  const n = (pending.get(socket) ?? 0) + 1;
  if (n > max) {
    socket.destroy();
    return false;
  }
  pending.set(socket, n);
  res.once('close', () => {
    const left = (pending.get(socket) ?? 1) - 1;
    if (left > 0) pending.set(socket, left);
    else pending.delete(socket);
  });
  return true;
}
