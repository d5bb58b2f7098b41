import type { IncomingMessage } from 'node:http';
import { readJsonBody as readBoundedJson, RequestBodyError } from '@llmsec/ratelimit/http';
import { parseChatMessage, type ChatMessage } from './chat-messages.ts';
import { HttpError } from './http-errors.ts';

/**
 * Reads the JSON body with the rate-limit package's bounded reader (the middleware's token
 * estimate reads the same parse) and turns its failures into clear 4xx answers.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'invalid_request_error', 'content-type must be application/json');
  }
  // This API takes its JSON uncompressed, and says so before reading (the bounded reader would
  // decompress gzip, deflate or zstd, but an OpenAI-style client sends plain JSON).
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw new HttpError(
      415,
      'invalid_request_error',
      `content-encoding ${JSON.stringify(encoding)} is not supported: send the JSON uncompressed`,
    );
  }
  try {
    return await readBoundedJson(req, { limitBytes });
  } catch (err) {
    if (err instanceof RequestBodyError) {
      const message =
        err.status === 413 ? `request body over ${limitBytes} bytes` : `invalid JSON body: ${err.message}`;
      throw new HttpError(err.status, 'invalid_request_error', message);
    }
    throw err;
  }
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters?: object } }>;
}

/** Validates the OpenAI-compatible request fields this API supports, naming the bad field. */
export function parseChatRequest(body: unknown, defaultModel: string): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_request_error', 'body must be a JSON object');
  }
  const raw = body as Record<string, unknown>;
  const model = raw.model ?? defaultModel;
  if (typeof model !== 'string' || model.length === 0 || model.length > 100) {
    throw new HttpError(400, 'invalid_request_error', '"model" must be a non-empty string', {
      param: 'model',
    });
  }
  if (!Array.isArray(raw.messages) || raw.messages.length === 0) {
    throw new HttpError(400, 'invalid_request_error', '"messages" must be a non-empty array', {
      param: 'messages',
    });
  }
  // One JSON completion is all this API answers. A streaming client answered with it instead of
  // server-sent events reads an empty stream and no error (openai 7: zero chunks), so say so.
  if (raw.stream !== undefined && raw.stream !== null && raw.stream !== false) {
    throw new HttpError(
      400,
      'invalid_request_error',
      '"stream" is not supported by this API: leave it out or send false',
      { param: 'stream' },
    );
  }
  const messages = raw.messages.map(parseChatMessage);
  const request: ChatRequest = { model, messages };
  if (raw.max_tokens !== undefined) {
    if (
      !Number.isInteger(raw.max_tokens) ||
      (raw.max_tokens as number) < 1 ||
      (raw.max_tokens as number) > 32_768
    ) {
      throw new HttpError(400, 'invalid_request_error', '"max_tokens" must be an integer in 1..32768', {
        param: 'max_tokens',
      });
    }
    request.max_tokens = raw.max_tokens as number;
  }
  if (raw.tools !== undefined) {
    if (!Array.isArray(raw.tools) || raw.tools.some((t) => typeof t?.function?.name !== 'string')) {
      throw new HttpError(400, 'invalid_request_error', '"tools" must be an array of function tools', {
        param: 'tools',
      });
    }
    request.tools = raw.tools as ChatRequest['tools'];
  }
  return request;
}

/** User ids arrive in a header: bounded and printable, or the request is refused. */
const USER_ID = /^[A-Za-z0-9._@:-]{1,128}$/;

export function parseUserId(header: string | string[] | undefined): string {
  if (header === undefined) {
    throw new HttpError(401, 'authentication_error', 'missing x-user-id header');
  }
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !USER_ID.test(value)) {
    throw new HttpError(
      400,
      'invalid_request_error',
      'x-user-id must be 1-128 characters of letters, digits and . _ @ : -',
      { param: 'x-user-id' },
    );
  }
  return value;
}
