import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Both clients (openai 7, @anthropic-ai/sdk 1) call `await this.prepareOptions(options)` at
 * the start of every HTTP attempt, after the request options (body included) are built and
 * before the body is serialised. That is the one place where an async guard or a rate limiter
 * can run before the request leaves, rewrite its body or refuse it, while the method still
 * returns the library's own APIPromise synchronously. The call being made is found through
 * AsyncLocalStorage: the wrapper runs the original method inside `callStore.run(call, …)`, and
 * the client's async request chain inherits that store.
 */

export interface PreparingCall {
  /** Runs the input phase once per call; returns a promise when it has async work. May throw (block). */
  beforeRequest(options: { body?: unknown }): Promise<void> | undefined;
}

export const callStore = new AsyncLocalStorage<PreparingCall>();
const hooked = new WeakSet<object>();

type PrepareFn = (this: unknown, options: { body?: unknown }) => unknown;

/** Installs the hook on one client instance (an own property: it wins over any subclass override). */
export function ensurePrepareHook(client: unknown): boolean {
  if (typeof client !== 'object' || client === null) return false;
  if (hooked.has(client)) return true;
  const original = (client as { prepareOptions?: unknown }).prepareOptions;
  if (typeof original !== 'function') return false;
  const prepare = original as PrepareFn;
  Object.defineProperty(client, 'prepareOptions', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function llmsecPrepareOptions(this: unknown, options: { body?: unknown }): unknown {
      const call = callStore.getStore();
      if (call === undefined) return prepare.call(this, options);
      const pending = call.beforeRequest(options);
      return pending === undefined
        ? prepare.call(this, options)
        : pending.then(() => prepare.call(this, options));
    },
  });
  hooked.add(client);
  return true;
}
