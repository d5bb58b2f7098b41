import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import type { Alert } from '@llmsec/core';
import {
  createRateLimitMiddleware,
  estimateChatTokens,
  setRateLimitUsage,
  type RateLimiter,
} from '@llmsec/ratelimit';
import { userSubject } from '@llmsec/ratelimit/http';
import {
  GuardrailBlockedError,
  instrumentClient,
  OutputBlockedError,
  withSecurityContext,
} from '@llmsec/sdk';
import type { DetectionEngine } from '@llmsec/detect';
import { chatApiGuards, SYSTEM_PROMPT } from './guards.ts';
import { HttpError, sendError, sendJson } from './http-errors.ts';
import { setupLimiter } from './limiter.ts';
import { checkUpstreamTimeout, type ChatApiOptions } from './options.ts';
import { modelAllowlist } from './models.ts';
import { parseChatRequest, parseUserId, readJsonBody, type ChatRequest } from './request-body.ts';
import { setupTelemetry } from './telemetry.ts';

export interface ChatApi {
  /** `http://host:port` of the API. */
  url: string;
  port: number;
  server: Server;
  engine: DetectionEngine;
  limiter: RateLimiter;
  /** Every alert so far (firing and resolved). */
  alerts: Alert[];
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible `POST /v1/chat/completions` with llmsec wired in: the rate-limit
 * middleware in front, input and output guards around the upstream call (the real `openai`
 * client, instrumented), inline detection behind, and `/metrics` for Prometheus.
 */
export async function startChatApi(options: ChatApiOptions): Promise<ChatApi> {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const defaultModel = options.defaultModel ?? 'gpt-4o-mini';
  const upstreamTimeoutMs = checkUpstreamTimeout(options.upstreamTimeoutMs ?? 30_000);
  const checkModel = modelAllowlist(options.models);
  const telemetry = setupTelemetry(options);
  const { events, metrics, metricsHandler } = telemetry.llmsec;
  const limiting = setupLimiter(options, events);
  telemetry.onAlert.push(limiting.onAlert);
  // The users who join an open incident (a campaign's later accounts) get points too; the hook
  // gives each user points once per incident (alertViolationHook).
  telemetry.onUpdate.push(limiting.onAlert);

  const client = instrumentClient(
    new OpenAI({
      baseURL: options.upstream.baseURL,
      apiKey: options.upstream.apiKey,
      maxRetries: 0,
      timeout: upstreamTimeoutMs,
    }),
    { events, guards: chatApiGuards() },
  );

  const rateLimit = createRateLimitMiddleware({
    limiter: limiting.limiter,
    // The user id header was validated before the limiter runs; it is also the id detection
    // alerts name, so an alert's violation lands on the subject the limiter counts. userSubject
    // writes an id that begins with ip: or key: as user:<id>, as the alert hook does, so a
    // client cannot name (and spend) an address's bucket.
    subject: (req) => userSubject(req.headers['x-user-id'] as string),
    tier: (req) => (req.headers['x-plan'] === 'pro' ? 'pro' : 'free'),
    estimateTokens: (req) => {
      const body = req.body as ChatRequest;
      return estimateChatTokens(body.messages, body.model) + (body.max_tokens ?? 256);
    },
    // Refused requests never reach the LLM client (which counts the others), so they are
    // counted here: the dashboard's "requests by outcome" then includes rate_limited.
    onDecision: (decision, req) => {
      if (!decision.result.allowed)
        metrics.recordRequest({ outcome: 'rate_limited', model: (req.body as ChatRequest).model });
    },
  });

  async function completions(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
    const userId = parseUserId(req.headers['x-user-id']);
    const sessionId =
      typeof req.headers['x-session-id'] === 'string' ? req.headers['x-session-id'].slice(0, 128) : undefined;
    const chat = parseChatRequest(await readJsonBody(req, maxBodyBytes), defaultModel);
    checkModel(chat.model);
    req.body = chat;
    // A refusal has been answered (429 with headers and a JSON body) by the middleware.
    if (!(await rateLimit(req, res))) return;
    await withSecurityContext({ userId, sessionId }, () => callUpstream(chat, res));
  }

  async function callUpstream(chat: ChatRequest, res: ServerResponse): Promise<void> {
    const messages = [
      { role: 'system' as const, content: SYSTEM_PROMPT },
      ...chat.messages.filter((m) => m.role !== 'system'),
    ];
    try {
      const completion = await client.chat.completions.create({
        model: chat.model,
        messages,
        ...(chat.max_tokens !== undefined ? { max_tokens: chat.max_tokens } : {}),
        ...(chat.tools !== undefined ? { tools: chat.tools as OpenAI.ChatCompletionTool[] } : {}),
      });
      if (completion.usage) setRateLimitUsage(res, { tokens: completion.usage.total_tokens });
      sendJson(res, 200, completion);
    } catch (err) {
      if (err instanceof GuardrailBlockedError) {
        throw new HttpError(403, 'guardrail_blocked', 'the request was blocked by a guardrail', {
          layer: err.layer,
        });
      }
      if (err instanceof OutputBlockedError) {
        throw new HttpError(403, 'output_blocked', 'the response was withheld by an output filter', {
          filter: err.filter,
        });
      }
      // Before APIError, which it extends: a client that waited in vain is told so (504), not
      // that the upstream answered with an error.
      if (err instanceof OpenAI.APIConnectionTimeoutError) {
        throw new HttpError(
          504,
          'upstream_timeout',
          `upstream did not answer within ${upstreamTimeoutMs} ms`,
        );
      }
      if (err instanceof OpenAI.APIError) {
        throw new HttpError(502, 'upstream_error', `upstream answered ${err.status ?? 'with an error'}`);
      }
      throw err;
    }
  }

  const server = createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError)) console.error('chat-api: unexpected error', err);
      sendError(res, err instanceof HttpError ? err : new HttpError(500, 'server_error', 'internal error'));
    });
  });
  server.requestTimeout = 60_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') throw new HttpError(405, 'invalid_request_error', 'use POST');
      await completions(req, res);
    } else if (path === '/metrics' && options.metrics === undefined && metricsHandler) {
      metricsHandler(req, res);
    } else if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else {
      throw new HttpError(404, 'not_found', `no route for ${req.method} ${path}`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host === '0.0.0.0' || options.host === undefined ? '127.0.0.1' : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    engine: telemetry.engine,
    limiter: limiting.limiter,
    alerts: telemetry.alerts,
    close: () =>
      (closing ??= (async () => {
        // Stop accepting, drop idle keep-alive sockets (they would hold close() open), and
        // let requests in flight finish.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        await telemetry.shutdown();
        await limiting.close();
      })()),
  };
}
