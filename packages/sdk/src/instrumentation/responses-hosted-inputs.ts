import { obj } from './adapter.ts';

/**
 * What a Responses answer's hosted tool calls send out, read as tool-call arguments by the
 * output guards (tool-arguments.ts): a `web_search_call`'s `action.queries` and `action.query` (and the `url` /
 * `pattern` of its open_page / find_in_page actions), an `mcp_call`'s `arguments` (JSON text
 * sent to the MCP server), a `code_interpreter_call`'s `code`. The provider runs these itself:
 * the model's words leave for a search engine, an MCP server or a sandbox, and the
 * application never runs them, so before no output guard read them (an address put in a search
 * query passed every mode). Each as [holder, field], for textSlot and the stream rewrites.
 */
export function hostedInputs(
  item: Record<string, unknown> | undefined,
): Array<[Record<string, unknown>, string]> {
  const out: Array<[Record<string, unknown>, string]> = [];
  if (item?.type === 'web_search_call') {
    const action = obj(item.action);
    if (action !== undefined) {
      for (const f of WEB_SEARCH_FIELDS) if (typeof action[f] === 'string') out.push([action, f]);
      // `queries`, the API's list of the search's queries (`query` is the deprecated one): each
      // read and rewritten in place, the list its holder. Before, an address there passed.
      if (Array.isArray(action.queries)) {
        const queries = action.queries as unknown as Record<string, unknown>;
        for (let i = 0; i < action.queries.length; i++)
          if (typeof queries[i] === 'string') out.push([queries, `${i}`]);
      }
    }
  } else if (item?.type === 'mcp_call') {
    if (typeof item.arguments === 'string') out.push([item, 'arguments']);
  } else if (item?.type === 'code_interpreter_call') {
    if (typeof item.code === 'string') out.push([item, 'code']);
  }
  return out;
}

const WEB_SEARCH_FIELDS = ['query', 'url', 'pattern'] as const;
