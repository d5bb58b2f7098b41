import { StreamLimitError } from './stream-limit.ts';

/**
 * Tool names a stream's summary lists (`toolCalls`, what toolAllowlistGuard reads): one entry a
 * call, as a complete response's. OpenAI-compatible servers may repeat a call's `function.name`
 * in every chunk of its arguments, and each was pushed: a stream naming a call in every chunk,
 * or naming a new one in each, grew the list without bound, and a name had no length cap.
 * 1,024 entries (the figure of MAX_TOOL_CALLS: calls whose arguments a stream keeps apart);
 * a name of at most 1,024 characters (OpenAI and Anthropic allow 64; an MCP tool's name with its
 * server's is longer, not 1,024).
 */
export const MAX_TOOL_CALL_NAMES = 1024;
export const MAX_TOOL_NAME_CHARS = 1024;

/**
 * One stream's tool-call names. A call (`key`: chat's choice and tool index, Anthropic's block)
 * named again with the name it has is not listed again; another name is (every name a call
 * gives is read, as toolCallNames reads both of a call's). Past a cap a guarded stream is cut
 * (StreamLimitError: the allowlist would not read a name, and a name cut short could read as an
 * allowed one); an unguarded one leaves the name out (nothing reads the list but the guards).
 */
export class ToolCallNames {
  private readonly into: string[];
  private readonly guarded: boolean;
  /** The last name each call gave (made at the first name: most streams call no tool). */
  private last: Map<string, string> | undefined;

  constructor(into: string[], guarded: boolean) {
    this.into = into;
    this.guarded = guarded;
  }

  add(key: string, name: string): void {
    if (this.last?.get(key) === name) return;
    if (name.length > MAX_TOOL_NAME_CHARS) {
      if (this.guarded)
        throw new StreamLimitError(`stream_limit: a tool name longer than ${MAX_TOOL_NAME_CHARS} characters`);
      return;
    }
    if (this.into.length >= MAX_TOOL_CALL_NAMES) {
      if (this.guarded)
        throw new StreamLimitError(`stream_limit: more than ${MAX_TOOL_CALL_NAMES} tool-call names`);
      return;
    }
    (this.last ??= new Map()).set(key, name);
    this.into.push(name);
  }
}
