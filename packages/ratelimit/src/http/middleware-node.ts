/**
 * Rate-limit middleware for node:http and Express (same `(req, res, next)` shape).
 *
 * Express: `app.use(express.json(), createRateLimitMiddleware({ limiter }))` — put the body
 * parser first if the default estimator should see the request body; the middleware never
 * reads the body stream itself. node:http: `http.createServer(withRateLimit(limiter, handler))`,
 * and use `readJsonBody` in a custom `estimateTokens` if you want body-based estimates.
 */
import type { ServerResponse } from 'node:http';
import { reportError } from './errors.ts';
import { RateLimitGuard } from './guard.ts';
import type { Admission } from './guard.ts';
import type { GuardRequest, LimiterLike, RateLimitMiddlewareOptions } from './types.ts';

export type NextFunction = (err?: unknown) => void;

/**
 * `(req, res, next?) => Promise<boolean>`: resolves true when the request was admitted (and
 * `next()` was called, if given), false when it was refused (response sent) or the client is
 * gone. Rejects only if `next()` itself throws (Express turns that into `next(err)`).
 */
export type RateLimitMiddleware = (
  req: GuardRequest,
  res: ServerResponse,
  next?: NextFunction,
) => Promise<boolean>;

export function createRateLimitMiddleware(options: RateLimitMiddlewareOptions): RateLimitMiddleware {
  const guard = new RateLimitGuard<GuardRequest>(options);
  return async function llmsecRateLimit(req, res, next) {
    const admission = await guard.admit(req, res);
    const admitted = applyAdmission(admission, res);
    if (admitted && next) next();
    return admitted;
  };
}

/** Writes the admission to a node response; true when the request should go on. */
export function applyAdmission(admission: Admission, res: ServerResponse): boolean {
  if (admission.kind === 'aborted') return false;
  try {
    if (!res.headersSent) {
      for (const [name, value] of Object.entries(admission.headers)) res.setHeader(name, value);
    }
    if (admission.kind === 'allowed') return true;
    if (!res.headersSent) res.statusCode = admission.status;
    res.end(admission.body);
  } catch (err) {
    reportError('respond', err);
  }
  return false;
}

export type RequestHandler = (req: GuardRequest, res: ServerResponse) => unknown;

/**
 * A node:http request listener that runs `handler` only for admitted requests. A handler that
 * throws or rejects is reported; the client gets a 500 if nothing was sent yet, otherwise the
 * connection is closed (either way the lease is released by the response ending).
 */
export function withRateLimit(
  limiter: LimiterLike,
  handler: RequestHandler,
  options: Omit<RateLimitMiddlewareOptions, 'limiter'> = {},
): (req: GuardRequest, res: ServerResponse) => void {
  const middleware = createRateLimitMiddleware({ ...options, limiter });
  return function llmsecRateLimitedHandler(req, res) {
    void middleware(req, res)
      .then(async (admitted) => {
        if (admitted) await handler(req, res);
      })
      .catch((err: unknown) => {
        reportError('handler', err);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else {
          res.destroy();
        }
      });
  };
}
