import type {
  GuardContext,
  GuardDecision,
  GuardInput,
  GuardOutput,
  InputGuard,
  OutputDecision,
  OutputGuard,
} from '../instrumentation/types.ts';

/**
 * Only listed tools: a request that declares another tool, or a response that calls one,
 * emits `tool_abuse_attempt` (tool_name, block_reason) and is blocked. Use it as an input
 * guard (declared tools), an output guard (tool calls), or both.
 */
export interface ToolAllowlistOptions {
  allowed: string[];
  /** @default 'tool_allowlist' */
  layer?: string;
}

export interface ToolAllowlistGuard extends InputGuard, OutputGuard {}

export function toolAllowlistGuard(options: ToolAllowlistOptions): ToolAllowlistGuard {
  if (!Array.isArray(options?.allowed) || options.allowed.some((t) => typeof t !== 'string')) {
    throw new TypeError('toolAllowlistGuard: allowed must be an array of tool names');
  }
  const allowed = new Set(options.allowed);
  const layer = options.layer ?? 'tool_allowlist';

  function refuse(tool: string, why: string, ctx: GuardContext): { action: 'block'; reason: string } {
    const reason = `tool "${tool}" is not allowed (${why})`;
    ctx.emit('tool_abuse_attempt', {
      description: reason,
      metadata: { tool_name: tool, block_reason: reason },
    });
    return { action: 'block', reason };
  }

  return {
    name: 'toolAllowlistGuard',
    layer,
    check(input: GuardInput, ctx: GuardContext): GuardDecision {
      for (const tool of input.tools)
        if (!allowed.has(tool)) return refuse(tool, 'declared in the request', ctx);
      return allow();
    },
    checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision {
      for (const tool of output.toolCalls)
        if (!allowed.has(tool)) return refuse(tool, 'called by the model', ctx);
      return allow();
    },
  };
}

/**
 * A fresh allow per call, not one shared frozen object: a host's wrapper may set fields on the
 * decision it gets (turn it into a block, say); on a frozen object that throws in strict mode
 * and the runner would read the throw as the guard failing, not as the block meant.
 */
function allow(): { action: 'allow' } {
  return { action: 'allow' };
}
