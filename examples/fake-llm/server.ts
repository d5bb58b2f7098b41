import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicMessage, anthropicStreamEvents } from './anthropic.ts';
import {
  chatCompletion,
  chatStreamChunks,
  embeddings,
  responsesObject,
  responsesStreamEvents,
} from './openai.ts';
import { planReply, type FakeRequest } from './reply.ts';

/**
 * A local, deterministic stand-in for the OpenAI and Anthropic HTTP APIs, so the real client
 * packages can be exercised (tests, benchmark, demo) without a network or a key. It speaks
 * just enough of each API for chat completions, responses, embeddings and messages, in JSON
 * and in server-sent events, and can be scripted per request to fail (429, 500) or to answer
 * with anything a test needs.
 */

export type { FakeRequest } from './reply.ts';

/** One SSE event: `event:` line (optional) and `data:` payload (objects are JSON-encoded). */
export interface SseEvent {
  event?: string;
  data: unknown;
}

/** What a script may answer for one request; `undefined` means: the default behaviour. */
export type FakeResponse =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'sse'; events: SseEvent[]; chunkDelayMs?: number; headers?: Record<string, string> }
  | { kind: 'error'; status: number; message?: string; headers?: Record<string, string> };

export interface FakeLlmOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Per-request override; return undefined for the default answer. */
  script?: (req: FakeRequest) => FakeResponse | undefined;
  /** Delay between SSE events of default streams (ms). @default 0 */
  chunkDelayMs?: number;
  /** Requests kept in `requests` (oldest dropped first). @default 1000 */
  maxRecorded?: number;
}

export interface FakeLlm {
  /** `http://127.0.0.1:<port>`: Anthropic's baseURL. */
  readonly url: string;
  /** `<url>/v1`: OpenAI's baseURL. */
  readonly openaiBaseURL: string;
  readonly port: number;
  /** Every request received, in order (bounded by maxRecorded). */
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  const host = options.host ?? '127.0.0.1';
  const maxRecorded = options.maxRecorded ?? 1000;
  const defaultDelay = options.chunkDelayMs ?? 0;
  const requests: FakeRequest[] = [];

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'fake_llm_error' } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        sendJson(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } });
        return;
      }
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const fakeReq: FakeRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
    requests.push(fakeReq);
    if (requests.length > maxRecorded) requests.shift();

    const scripted = options.script?.(fakeReq);
    const answer = scripted ?? defaultAnswer(fakeReq);
    await send(res, answer, fakeReq, defaultDelay);
  }

  // Node closes a kept-alive connection 5 s after its last response was written, and a client
  // that spent longer than that reading and checking a large body (a 32 Mi stream on a loaded
  // host) then sends its next request on a socket being closed: 'Connection error' (ECONNRESET).
  // The clients close idle sockets themselves (undici after 4 s idle), and close() below ends
  // every connection, so the fake server never closes an idle one first.
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    port,
    requests,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The default answer: an echo-ish reply, or the error a `[[429]]` / `[[500]]` marker asks for. */
export function defaultAnswer(req: FakeRequest): FakeResponse {
  const plan = planReply(req);
  if (plan.errorStatus !== undefined) {
    return {
      kind: 'error',
      status: plan.errorStatus,
      message: plan.errorStatus === 429 ? 'Rate limit reached (fake)' : 'Internal error (fake)',
      headers: plan.errorStatus === 429 ? { 'retry-after': '1' } : {},
    };
  }
  const stream = req.body.stream === true;
  switch (req.path) {
    case '/v1/chat/completions':
      return stream
        ? { kind: 'sse', events: chatStreamChunks(req, plan) }
        : { kind: 'json', body: chatCompletion(req, plan) };
    case '/v1/responses':
      return stream
        ? { kind: 'sse', events: responsesStreamEvents(req, plan) }
        : { kind: 'json', body: responsesObject(req, plan) };
    case '/v1/embeddings':
      return { kind: 'json', body: embeddings(req) };
    case '/v1/messages':
      return stream
        ? { kind: 'sse', events: anthropicStreamEvents(req, plan) }
        : { kind: 'json', body: anthropicMessage(req, plan) };
    default:
      return { kind: 'error', status: 404, message: `no route ${req.path}` };
  }
}

async function send(
  res: ServerResponse,
  answer: FakeResponse,
  req: FakeRequest,
  defaultDelay: number,
): Promise<void> {
  if (answer.kind === 'json') {
    sendJson(res, answer.status ?? 200, answer.body, answer.headers);
    return;
  }
  if (answer.kind === 'error') {
    const anthropic = req.path === '/v1/messages';
    const type =
      answer.status === 429
        ? 'rate_limit_error'
        : answer.status >= 500
          ? 'api_error'
          : 'invalid_request_error';
    const message = answer.message ?? `fake error ${answer.status}`;
    const body = anthropic
      ? { type: 'error', error: { type, message } }
      : { error: { message, type, code: answer.status === 429 ? 'rate_limit_exceeded' : null } };
    sendJson(res, answer.status, body, answer.headers);
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...answer.headers,
  });
  const delay = answer.chunkDelayMs ?? defaultDelay;
  for (const ev of answer.events) {
    if (res.destroyed || res.writableEnded) return;
    const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
    res.write(`${ev.event !== undefined ? `event: ${ev.event}\n` : ''}data: ${data}\n\n`);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  }
  if (!res.destroyed) res.end();
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
