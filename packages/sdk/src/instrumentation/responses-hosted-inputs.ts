import { obj } from './adapter.ts';

/**
 * What a Responses answer's tool calls that are not functions hand on, read as tool-call
 * arguments by the output guards (tool-arguments.ts).
 *
 * Run by the provider: a `web_search_call`'s `action.queries` and `action.query` (and the `url` /
 * `pattern` of its open_page / find_in_page actions), a `file_search_call`'s `queries`, an
 * `image_generation_call`'s `revised_prompt` (the prompt the model wrote for the image tool), an
 * `mcp_call`'s `arguments` (JSON text sent to the MCP server), a `code_interpreter_call`'s
 * `code`: the model's words leave for a search engine, a vector store, an image model, an MCP
 * server or a sandbox, and come back to the application in the answer.
 *
 * Run by the application's executors: a `shell_call`'s `action.commands`, a `local_shell_call`'s
 * `action.command` (argv) and `action.env` values, an `apply_patch_call`'s `operation.path` and
 * `operation.diff`, a `computer_call`'s typed text (`action.text`, and each `actions[]` entry's,
 * of type `type`) and keys (a `keypress`'s `keys`, the modifier `keys` held in a click, drag,
 * move or scroll). Before, no output guard read any of these: an address put in a search query
 * or a shell command passed every mode.
 *
 * Each string is read alone, as the executor receives it: argv `['mail', 'jane@', 'example.com']`
 * hands the program two arguments, neither an address, and is not read as one (joined without
 * a space it would make addresses of `['-u', 'a@b']`-like pairs that are none; with a space it
 * holds none either). The same for keys pressed one by one across actions: each key is read on
 * its own, so text spelled a key at a time is not seen (type it, and `text` is read).
 *
 * Each as [holder, field], for textSlot and the stream rewrites; a string of a list has the list
 * as its holder and its index as its field, so redact rewrites it in place.
 *
 * A field (or list member) that is there but not a string (an object: a server may send an MCP
 * call's `arguments` parsed; a number) is listed too, and read as its JSON text (argumentsText,
 * tool-arguments.ts), as a function call's arguments are, plain and streamed; a rewrite that
 * changes it is written as a string. Before, only strings were listed: an address in
 * `arguments: {to: 'jane@example.com'}` passed every mode. Null or absent: not listed.
 */
export function hostedInputs(
  item: Record<string, unknown> | undefined,
): Array<[Record<string, unknown>, string]> {
  const out: Array<[Record<string, unknown>, string]> = [];
  switch (item?.type) {
    case 'web_search_call': {
      const action = obj(item.action);
      if (action === undefined) break;
      for (const f of WEB_SEARCH_FIELDS) if (action[f] != null) out.push([action, f]);
      // `queries`, the API's list of the search's queries (`query` is the deprecated one).
      listed(action.queries, out);
      break;
    }
    case 'file_search_call':
      listed(item.queries, out);
      break;
    case 'image_generation_call':
      if (item.revised_prompt != null) out.push([item, 'revised_prompt']);
      break;
    case 'mcp_call':
      if (item.arguments != null) out.push([item, 'arguments']);
      break;
    case 'code_interpreter_call':
      if (item.code != null) out.push([item, 'code']);
      break;
    case 'shell_call':
      listed(obj(item.action)?.commands, out);
      break;
    case 'local_shell_call': {
      const action = obj(item.action);
      listed(action?.command, out);
      // The environment the command runs with is the model's words too (EMAIL=...).
      const env = obj(action?.env);
      if (env !== undefined) for (const k of Object.keys(env)) if (env[k] != null) out.push([env, k]);
      break;
    }
    case 'apply_patch_call': {
      // The file's path is the model's words too (a file named after an address or a key).
      const op = obj(item.operation);
      if (op !== undefined && op.path != null) out.push([op, 'path']);
      if (op !== undefined && op.diff != null) out.push([op, 'diff']);
      break;
    }
    case 'computer_call':
      typed(obj(item.action), out);
      if (Array.isArray(item.actions)) for (const a of item.actions) typed(obj(a), out);
      break;
    default:
      break;
  }
  return out;
}

const WEB_SEARCH_FIELDS = ['query', 'url', 'pattern'] as const;

/** Each string of a list, the list its holder (rewritten in place). */
function listed(list: unknown, out: Array<[Record<string, unknown>, string]>): void {
  if (!Array.isArray(list)) return;
  const holder = list as unknown as Record<string, unknown>;
  for (let i = 0; i < list.length; i++) if (holder[i] != null) out.push([holder, `${i}`]);
}

/**
 * What a computer action hands the keyboard: a `type` action's text, and the `keys` of any
 * action (a `keypress`'s keys; the modifiers a click, drag, move or scroll holds), each key read
 * on its own.
 */
function typed(
  action: Record<string, unknown> | undefined,
  out: Array<[Record<string, unknown>, string]>,
): void {
  if (action?.type === 'type' && action.text != null) out.push([action, 'text']);
  listed(action?.keys, out);
}
