/**
 * Roles of the guard messages that carry a tool's output, not the user's own text: OpenAI chat
 * `tool` (and the legacy `function`), the Responses API's `*_output` items (their type is their
 * role) and its calls of tools OpenAI runs, whose items hold the result (`mcp_call`'s output,
 * `file_search_call`'s results, `code_interpreter_call`'s logs: responses-items.ts) and its
 * MCP servers' tool lists (`mcp_list_tools`: the descriptions are the server's words), and
 * Anthropic tool results, which the adapter gives role `tool`, and its plain-text documents,
 * role `document` (tool-split.ts: an attached or retrieved document is third-party text too). Text
 * there came from a fetched page, a retrieved document or another system: an injection in it
 * was written by whoever wrote that content, not by the end user (input_source: "tool"). That
 * holds when the application builds those messages; one that passes a client's history through
 * takes the client's word for the role (the detection rule tool_injection_variety flags a user
 * with many different "tool" payloads).
 */
export function isToolRole(role: string): boolean {
  return (
    role === 'tool' ||
    role === 'function' ||
    role === 'document' ||
    role.endsWith('_output') ||
    role === 'mcp_call' ||
    role === 'mcp_list_tools' ||
    role === 'file_search_call' ||
    role === 'code_interpreter_call'
  );
}
