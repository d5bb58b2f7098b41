/**
 * Fastify integration: one hook on the instance. The default hook is `preHandler`, which runs
 * after Fastify parsed the body, so the default estimator sees `request.body`; choose
 * `onRequest` to refuse before the body is read at all (then estimate from headers or not at
 * all). The lease follows the raw response (`reply.raw`) exactly as in the node middleware.
 *
 *   fastifyRateLimit(app, { limiter });                // hooks on `app` (all its routes)
 *   await app.register(fastifyRateLimitPlugin, { limiter }); // same, as a plugin
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimitGuard } from './guard.ts';
import type { RateLimitMiddlewareOptions } from './types.ts';

export interface FastifyRateLimitOptions extends RateLimitMiddlewareOptions<FastifyRequest> {
  /** @default 'preHandler' */
  hook?: 'onRequest' | 'preHandler';
}

export function fastifyRateLimit(fastify: FastifyInstance, options: FastifyRateLimitOptions): void {
  const hook = options.hook ?? 'preHandler';
  if (hook !== 'onRequest' && hook !== 'preHandler') {
    throw new RangeError(
      `llmsec fastifyRateLimit: hook must be 'onRequest' or 'preHandler', got ${String(hook)}`,
    );
  }
  const guard = new RateLimitGuard<FastifyRequest>(options);
  fastify.addHook(hook, async function llmsecRateLimit(request: FastifyRequest, reply: FastifyReply) {
    const admission = await guard.admit(request, reply.raw);
    if (admission.kind === 'allowed') {
      reply.headers(admission.headers);
      return undefined;
    }
    if (admission.kind === 'aborted') {
      // Nobody to answer: stop Fastify's lifecycle here so the route handler never runs.
      reply.hijack();
      return undefined;
    }
    return reply.code(admission.status).headers(admission.headers).send(admission.body);
  });
}

/**
 * The same as a plugin. Marked to skip Fastify's encapsulation (what `fastify-plugin` does),
 * so the hook applies to the routes of the instance it is registered on.
 */
export const fastifyRateLimitPlugin: FastifyPluginAsync<FastifyRateLimitOptions> = Object.assign(
  async function llmsecRateLimitPlugin(fastify: FastifyInstance, options: FastifyRateLimitOptions) {
    fastifyRateLimit(fastify, options);
  },
  { [Symbol.for('skip-override')]: true },
);
