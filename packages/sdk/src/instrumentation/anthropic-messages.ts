import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  textOf,
  toolNames,
  type Body,
  type ProviderAdapter,
  type ResponseSummary,
  type StreamAccumulator,
} from './adapter.ts';
import {
  jsonText,
  objectSlot,
  StreamedArguments,
  tooManyToolCalls,
  valueText,
  withToolArguments,
  type ArgumentSlot,
} from './tool-arguments.ts';
import type { OutputTexts } from './output-texts.ts';
import {
  anthropicOutputTexts,
  citationTexts,
  responseText,
  responseTexts,
  withResponseText,
  type AnswerMessage,
} from './response-text.ts';
import { KeptText } from './kept-text.ts';
import { addCut } from './text-cuts.ts';
import { ToolCallNames } from './tool-names.ts';
import { isToolInputBlock } from './anthropic-tool-input-rewrite.ts';
import { thinkingSlot } from './anthropic-thinking.ts';
import { rewriteAnthropicEvent } from './stream-item-rewrite.ts';
import { guardMessages, withGuardMessages } from './tool-split.ts';
import type { GuardInput, GuardMessage } from './types.ts';

/**
 * `@anthropic-ai/sdk` 1.x `messages.create`, plain and streamed (`messages.stream` goes through
 * `create` with `stream: true`, so it is covered by the same wrapper). The beta namespace has
 * its own `create` (anthropicBetaMessagesAdapter below).
 */
export const anthropicMessagesAdapter: ProviderAdapter = {
  provider: 'anthropic',
  operation: 'chat',
  method: 'anthropic.messages.create',
  guarded: true,

  guardInput(body: Body): GuardInput {
    // Tool results and plain-text documents are their own `tool` / `document` messages (tool-split.ts).
    const messages = guardMessages(arr(body.messages));
    return {
      provider: 'anthropic',
      operation: 'chat',
      model: str(body.model) ?? '',
      system: textOf(body.system),
      messages,
      // An MCP server the request names (beta mcp_servers) is tools the allowlist must see:
      // Anthropic sends the conversation to its url. Named 'mcp', as a Responses mcp tool.
      tools: [...toolNames(body.tools), ...arr(body.mcp_servers).map(() => 'mcp')],
      body,
    };
  },

  applyInput(body: Body, messages: GuardMessage[] | undefined, system: string | undefined): Body {
    let next: Body = body;
    if (messages !== undefined) {
      next = {
        ...next,
        messages: withGuardMessages(arr(body.messages), messages),
      };
    }
    if (system !== undefined && body.system !== undefined) next = { ...next, system };
    return next;
  },

  isStream: (body) => body.stream === true,

  readResponse(data: unknown, kept?: KeptText): ResponseSummary {
    const d = obj(data);
    const s = emptySummary();
    s.id = str(d?.id);
    s.model = str(d?.model);
    const stop = str(d?.stop_reason);
    if (stop !== undefined) s.finishReasons.push(stop);
    const content = arr(d?.content);
    for (const block of content) {
      const b = obj(block);
      const called = calledTool(b);
      if (called !== undefined) s.toolCalls.push(called);
    }
    // The text blocks back to back, as the streamed path reads its deltas (response-text.ts).
    // Under the call's cap (kept-text.ts): the telemetry's copy, beside the body's own texts.
    s.text = kept === undefined ? responseText(content) : kept.join(responseTexts(content));
    if (kept?.truncated === true) s.droppedChars = kept.dropped;
    const usage = obj(d?.usage);
    s.inputTokens = num(usage?.input_tokens);
    s.outputTokens = num(usage?.output_tokens);
    return s;
  },

  applyOutput(data: unknown, text: string): unknown {
    // Block by block, each keeping its text and citations; no empty text block (response-text.ts).
    const d = obj(data);
    const content = d?.content;
    if (d !== undefined && Array.isArray(content)) d.content = withResponseText(content, text);
    return data;
  },

  outputTexts(data: unknown): OutputTexts | undefined {
    const d = obj(data);
    if (d === undefined || !Array.isArray(d.content)) return undefined;
    // tool_use blocks' input (tool-arguments.ts): what the model passes to the app's tools; a
    // server_tool_use's (a web search query, a fetched URL, code to run) and an mcp_tool_use's,
    // what it sends to the provider's tool or an MCP server: data leaving as surely.
    let calls: ArgumentSlot[] | undefined;
    // A thinking block's text too: read, never rewritten (anthropic-thinking.ts).
    for (const block of d.content) {
      const b = obj(block);
      if (isToolInputBlock(b)) objectSlot(b, 'input', (calls ??= []));
      if (obj(block)?.type === 'thinking') thinkingSlot(b, (calls ??= []));
    }
    const texts = anthropicOutputTexts(d as AnswerMessage);
    return calls === undefined ? texts : withToolArguments(texts, calls);
  },

  rewriteStreamItem: rewriteAnthropicEvent,

  newStream(_body?: Body, guarded = true): StreamAccumulator {
    const s = emptySummary();
    let done = false;
    /** Each tool_use block's input_json_delta pieces joined, by block index: for the end check. */
    let args: StreamedArguments | undefined;
    /** The block of the last text delta. */
    let block: number | undefined;
    /** Each thinking block's thinking_delta pieces joined, by block index: the model's reasoning. */
    let thinking: StreamedArguments | undefined;
    /** The characters of every text above and of `s`, against the end check's cap (kept-text.ts). */
    const kept = new KeptText(guarded);
    /** The side texts (`s.side`) already counted in `kept`. */
    let sideCounted = 0;
    /** The tools the blocks call, once a block, capped (tool-names.ts). */
    const names = new ToolCallNames(s.toolCalls, guarded);
    const addArgs = (key: string, piece: string): void => {
      if (!(args ??= new StreamedArguments(kept)).add(key, piece) && guarded) throw tooManyToolCalls();
    };
    const addThinking = (key: string, piece: string): void => {
      if (!(thinking ??= new StreamedArguments(kept, false)).add(key, piece) && guarded)
        throw tooManyToolCalls();
    };
    /** Quotes and text blocks sent whole (citationTexts, readWholeBlock) went to the side texts. */
    const countSide = (): void => {
      sideCounted = kept.addFrom(s.side, sideCounted);
    };
    return {
      observe(item: unknown): string {
        const ev = obj(item);
        switch (ev?.type) {
          case 'message_start': {
            const m = obj(ev.message);
            s.id = str(m?.id);
            s.model = str(m?.model);
            const usage = obj(m?.usage);
            s.inputTokens = num(usage?.input_tokens);
            s.outputTokens = num(usage?.output_tokens);
            for (const [i, block] of arr(m?.content).entries()) {
              const b = obj(block);
              if (b?.type === 'text') readWholeBlock(b, s);
              else if (b?.type === 'thinking' && typeof b.thinking === 'string' && b.thinking.length > 0)
                addThinking(`m${i}`, b.thinking);
            }
            countSide();
            return '';
          }
          case 'content_block_start': {
            const b = obj(ev.content_block);
            const called = calledTool(b);
            // Once a block, capped (tool-names.ts): a stream may start any number of blocks.
            if (called !== undefined) names.add(`${num(ev.index) ?? 0}`, called);
            // An input sent whole (a proxy's; the API sends {} and then the pieces).
            if (isToolInputBlock(b) && b.input !== undefined) {
              const whole = jsonText(b.input);
              if (whole !== undefined && whole !== '{}') addArgs(`${num(ev.index) ?? 0}`, whole);
            }
            if (b?.type === 'text') readWholeBlock(b, s);
            // A thinking block's text sent whole (a proxy's; the API sends '' and then the pieces).
            else if (b?.type === 'thinking') {
              const whole = str(b.thinking);
              if (whole !== undefined && whole.length > 0) addThinking(`${num(ev.index) ?? 0}`, whole);
            }
            countSide();
            return '';
          }
          case 'content_block_delta': {
            const d = obj(ev.delta);
            if (d?.type === 'citations_delta') {
              citationTexts(d.citation, (s.side ??= []));
              countSide();
            }
            if (d?.type === 'input_json_delta') {
              // A tool_use block's input, in pieces of its JSON text (tool-arguments.ts).
              const piece = str(d.partial_json);
              if (piece !== undefined && piece.length > 0) addArgs(`${num(ev.index) ?? 0}`, piece);
            } else if (d?.type === 'thinking_delta') {
              // The model's reasoning, which reaches the application: read by the end check after
              // the tool inputs, and piiGuard block holds the stream from here (anthropic-thinking.ts).
              const piece = str(d.thinking);
              if (piece !== undefined && piece.length > 0) addThinking(`${num(ev.index) ?? 0}`, piece);
            }
            // A text that is not a string: its JSON text (valueText, response-text.ts).
            const text = d?.type === 'text_delta' ? (valueText(d.text) ?? '') : '';
            if (text.length > 0) {
              const keep = kept.keep(text);
              // Another block than the last delta's: the blocks meet here (OutputTexts.cuts).
              const index = num(ev.index);
              if (s.text.length > 0 && index !== block && keep.length > 0)
                s.cuts = addCut(s.cuts, s.text.length, guarded); // capped (text-cuts.ts)
              block = index;
              s.text += keep;
            }
            return text;
          }
          case 'message_delta': {
            const stop = str(obj(ev.delta)?.stop_reason);
            if (stop !== undefined) s.finishReasons = [stop];
            // message_delta usage is cumulative for the call: assign, never add to message_start's.
            const usage = obj(ev.usage);
            s.outputTokens = num(usage?.output_tokens) ?? s.outputTokens;
            s.inputTokens = num(usage?.input_tokens) ?? s.inputTokens;
            return '';
          }
          case 'message_stop':
            done = true;
            return '';
          default:
            return '';
        }
      },
      summary: () => ({
        ...s,
        ...(kept.truncated ? { droppedChars: kept.dropped } : {}),
        finishReasons: [...s.finishReasons],
        toolCalls: [...s.toolCalls],
        ...(s.side === undefined ? {} : { side: [...s.side] }),
        ...(args === undefined ? {} : { toolArguments: args.texts() }),
        ...(thinking === undefined ? {} : { reasoning: thinking.texts() }),
        ...(s.cuts === undefined ? {} : { cuts: [...s.cuts] }),
      }),
      get complete() {
        return done;
      },
      // Argument and thinking pieces are read by the end check only.
      get unchecked() {
        return args !== undefined || thinking !== undefined;
      },
      get quotes() {
        return s.side;
      },
    };
  },
};

/**
 * `beta.messages.create`: the same request and response shapes with beta blocks and fields
 * (MCP connectors, containers, context management). Its own method, to which the client's
 * beta helpers all come (`beta.messages.stream`, `.parse`, `.toolRunner`, message threads), so
 * an application on the beta namespace passes the same guards. The client takes `betas` out of
 * the body before it is prepared, so the body the input phase rewrites never holds it, and
 * `mcp_servers`, `container` and any other field are carried by the body spread untouched.
 */
export const anthropicBetaMessagesAdapter: ProviderAdapter = {
  ...anthropicMessagesAdapter,
  method: 'anthropic.beta.messages.create',
};

/**
 * The tool a content block calls, as the request declares it (toolAllowlistGuard reads both):
 * a `tool_use` or `server_tool_use` block by its name (a server tool is declared with its name,
 * `web_fetch`, `code_execution`), an `mcp_tool_use` block as `mcp` (its server is declared in
 * `mcp_servers`, read as `mcp`). Before, only `tool_use` was read: an output allowlist passed a
 * server tool's or an MCP server's call, whose result the answer carries.
 */
function calledTool(b: Record<string, unknown> | undefined): string | undefined {
  if (b?.type === 'tool_use') return str(b.name);
  if (b?.type === 'server_tool_use') {
    const name = str(b.name);
    return name !== undefined && CODE_EXECUTION_CALLS.has(name) ? 'code_execution' : name;
  }
  return b?.type === 'mcp_tool_use' ? 'mcp' : undefined;
}

/**
 * The names the model calls the code execution tool by (code_execution_20250825 and later,
 * declared as `code_execution`): its bash and file-editing halves. Read by these names, an
 * allowlist listing the tool the application declares blocked every answer that ran code.
 */
const CODE_EXECUTION_CALLS = new Set(['bash_code_execution', 'text_editor_code_execution']);

/**
 * A text block a stream sends whole (its text in `content_block_start`, or in `message_start`'s
 * message: empty in the API's streams, but a proxy that turns a complete answer into events can
 * send it so) and its citations: side texts, read whole like a quote. So piiGuard block checks
 * the text before its event is delivered (call-stream.ts quoteChecked) and the end check reads
 * it; before, only redact read it (rewritten whole, stream-item-rewrite.ts): block and detect
 * let an address there through, and the reader's finalMessage() holds it.
 */
function readWholeBlock(b: Record<string, unknown>, s: ResponseSummary): void {
  const text = valueText(b.text);
  if (text !== undefined && text.length > 0) (s.side ??= []).push(text);
  for (const c of arr(b.citations)) citationTexts(c, (s.side ??= []));
}
