import { hostedInputs } from './responses-hosted-inputs.ts';
import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  toolNames,
  type Body,
  type ProviderAdapter,
  type ResponseSummary,
  type StreamAccumulator,
} from './adapter.ts';
import { annotationTexts } from './annotations.ts';
import { isRefusalPart, responsesOutputTexts } from './responses-output.ts';
import {
  argumentsText,
  StreamedArguments,
  textSlot,
  tooManyToolCalls,
  valueText,
  withToolArguments,
  type ArgumentSlot,
} from './tool-arguments.ts';
import { itemMessage, withItemText } from './responses-items.ts';
import { promptVariableMessages, withPromptVariables } from './responses-prompt-variables.ts';
import {
  contentKey,
  reasoningKey,
  reasoningRead,
  reasoningSlots,
  reasoningTexts,
  summaryKey,
} from './responses-reasoning.ts';
import { KeptMap } from './kept-map.ts';
import { KeptText } from './kept-text.ts';
import { ResponsesRepeats } from './responses-repeats.ts';
import { rewriteResponsesEvent } from './responses-stream-rewrite.ts';
import { StreamLimitError } from './stream-limit.ts';
import { ReadQuotes } from './read-quotes.ts';
import { addCut } from './text-cuts.ts';
import type { GuardInput, GuardMessage } from './types.ts';

/** `openai` 7.x `responses.create`, plain and streamed (typed events ending in response.completed). */
export const openaiResponsesAdapter: ProviderAdapter = {
  provider: 'openai',
  operation: 'chat',
  method: 'openai.responses.create',
  guarded: true,

  guardInput(body: Body): GuardInput {
    const messages: GuardMessage[] = [
      ...(typeof body.input === 'string'
        ? [{ role: 'user', content: body.input }]
        : // Tool outputs in items of their own shape, reasoning as the model's (responses-items.ts).
          arr(body.input).map(itemMessage)),
      // A stored prompt's text variables, after the input (responses-prompt-variables.ts).
      ...promptVariableMessages(body),
    ];
    const system = [
      str(body.instructions) ?? '',
      ...messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.content),
    ]
      .filter((t) => t.length > 0)
      .join('\n');
    return {
      provider: 'openai',
      operation: 'chat',
      model: str(body.model) ?? '',
      system,
      messages,
      tools: toolNames(body.tools),
      body,
    };
  },

  applyInput(body: Body, messages: GuardMessage[] | undefined, system: string | undefined): Body {
    let next: Body = body;
    if (messages !== undefined) {
      const inputs = typeof body.input === 'string' ? 1 : arr(body.input).length;
      next = withPromptVariables(next, messages.slice(inputs));
      if (typeof body.input === 'string') {
        next = { ...next, input: messages[0]?.content ?? body.input };
      } else if (body.input !== undefined) {
        next = {
          ...next,
          input: arr(body.input).map((m, i) => {
            const r = messages[i];
            return r === undefined ? m : withItemText(m, r.content);
          }),
        };
      }
    }
    if (system !== undefined && typeof body.instructions === 'string')
      next = { ...next, instructions: system };
    return next;
  },

  isStream: (body) => body.stream === true,

  readResponse: readResponseObject,

  applyOutput(data: unknown, text: string): unknown {
    const t = responsesOutputTexts(data);
    return t.write([text], t.side);
  },

  outputTexts: (data: unknown) => withToolArguments(responsesOutputTexts(data), responsesToolArguments(data)),

  rewriteStreamItem: rewriteResponsesEvent,

  newStream(_body?: Body, guarded = true): StreamAccumulator {
    let s: ResponseSummary = emptySummary();
    let text = '';
    let done = false;
    /**
     * Each refusal part's text as streamed, by part: its `refusal.delta` pieces joined, replaced
     * by its `refusal.done` text. The end check reads those the terminal response does not
     * repeat (a stream cut inside a refusal, a terminal event without the part): before, only
     * refusal.done texts and only without a terminal event, so the pieces of a cut refusal
     * were never read, and in block mode the held pieces were released after the check passed.
     */
    let refusals: KeptMap | undefined;
    /**
     * `output_text.annotation.added` texts, as they come (the terminal event usually repeats
     * them), and those of annotations a part's added / done event carries that no
     * annotation.added sent (a server that sends none): each is checked before its event is
     * delivered (piiGuard block's quote check) and read by the end check.
     */
    let quotes: string[] | undefined;
    /** The quotes read, by part and how often, kept or not: to tell a repeated annotation from a new one (read-quotes.ts). */
    let read: ReadQuotes | undefined;
    /**
     * Unguarded past the cap: the characters of quotes read and not kept, and the quotes kept
     * cut (a prefix of their text), by index in `quotes`.
     */
    let quotesDropped = 0;
    let quotesCut: Set<number> | undefined;
    /** Unguarded past the cap: the characters of the deltas read and not kept (`text` is a prefix of them). */
    let textDropped = 0;
    /**
     * Refusal text came (a piece, a done event or a part carrying one): read only by the end
     * check. Not only on a delta: a refusal sent whole in its done events was delivered before it.
     */
    let refusing = false;
    /** The characters of every text this keeps, against the end check's cap (kept-text.ts). */
    const kept = new KeptText(guarded);
    /** Output_text parts repeated with text their deltas did not carry (responses-repeats.ts). */
    const repeats = new ResponsesRepeats(kept);
    let unreadRepeat = false;
    /** Where the deltas' parts meet in `text`; the part of the last delta. */
    let cuts: number[] | undefined;
    let partOutput: number | undefined;
    let partContent: number | undefined;
    /** Each tool call's argument pieces joined (replaced by its done event's): for the end check. */
    let args: StreamedArguments | undefined;
    /** Each reasoning text's pieces joined, by item and summary / content index (responses-reasoning.ts). */
    let reasoning: StreamedArguments | undefined;
    const setReasoning = (key: string, text: string, whole: boolean): void => {
      const r = (reasoning ??= new StreamedArguments(kept, false));
      if (!(whole ? r.set(key, text) : r.add(key, text)) && guarded) throw tooManyToolCalls();
    };
    /**
     * The tools the output_item events call, by output index and name: the end check's calls when no
     * terminal event came. Read from the terminal event only, a stream cut after a call's items
     * (a cut connection, a proxy leaving the terminal event out) passed the allowlist.
     */
    let calls: Map<string, string> | undefined;
    /** A refusal part's piece (`whole` false) or whole text, by part. */
    const setRefusal = (k: string, r: string, whole: boolean): void => {
      refusals ??= new KeptMap(kept);
      // Past MAX_REFUSAL_PARTS parts (a hostile stream's pieces each naming a new part) the
      // stream is cut (fail closed). e48f6f6 joined the rest into one entry, so the pieces
      // of two parts sent interleaved were read mixed: an address in one part with the
      // other's piece inside it was not found by the end check (detect mode's only read).
      const before = refusals.get(k);
      if (before !== undefined || refusals.size < MAX_REFUSAL_PARTS) {
        if (whole) refusals.replace(k, r);
        else refusals.add(k, r, before);
      } else if (guarded)
        throw new StreamLimitError(`stream_limit: more than ${MAX_REFUSAL_PARTS} refusal parts`);
    };
    return {
      observe(item: unknown): string {
        const ev = obj(item);
        const type = str(ev?.type);
        if (type === 'response.output_text.delta') {
          // A delta that is not a string: its JSON text (valueText, responses-output.ts).
          const delta = valueText(ev?.delta) ?? '';
          // A delta of another part than the last: the parts meet here (the end check reads them
          // apart too, as a complete answer's: OutputTexts.cuts).
          if (delta.length > 0) {
            // Once a delta is not kept whole, no later one is: `text` stays a prefix of the deltas.
            let keep = '';
            if (textDropped === 0) keep = kept.keep(delta);
            else kept.drop(delta.length);
            textDropped += delta.length - keep.length;
            const o = num(ev?.output_index);
            const c = num(ev?.content_index);
            if (text.length > 0 && (o !== partOutput || c !== partContent) && keep.length > 0)
              cuts = addCut(cuts, text.length, guarded); // capped (text-cuts.ts)
            partOutput = o;
            partContent = c;
            text += keep;
          }
          return delta;
        }
        if (
          type === 'response.function_call_arguments.delta' ||
          type === 'response.custom_tool_call_input.delta' ||
          type === 'response.mcp_call_arguments.delta' ||
          type === 'response.code_interpreter_call_code.delta'
        ) {
          // A tool call's arguments, by item: read by the end check (tool-arguments.ts). Not a
          // string (an object: some servers send them parsed): their JSON text, as the complete
          // response's are read (textSlot).
          const piece = argumentsText(ev?.delta);
          if (piece !== undefined && piece.length > 0) {
            const key = str(ev?.item_id) ?? `#${num(ev?.output_index) ?? 0}`;
            if (!(args ??= new StreamedArguments(kept)).add(key, piece) && guarded) throw tooManyToolCalls();
          }
          return '';
        }
        if (
          type === 'response.function_call_arguments.done' ||
          type === 'response.custom_tool_call_input.done' ||
          type === 'response.mcp_call_arguments.done' ||
          type === 'response.code_interpreter_call_code.done'
        ) {
          const whole = argumentsText(ev?.arguments ?? ev?.input ?? ev?.code);
          if (whole !== undefined && whole.length > 0) {
            const key = str(ev?.item_id) ?? `#${num(ev?.output_index) ?? 0}`;
            if (!(args ??= new StreamedArguments(kept)).set(key, whole) && guarded) throw tooManyToolCalls();
          }
          return '';
        }
        if (
          type === 'response.shell_call_command.added' ||
          type === 'response.shell_call_command.delta' ||
          type === 'response.shell_call_command.done'
        ) {
          // A shell_call's command, by output and command index (its events name no item): the
          // key its item's commands have below. Read by the end check as a function call's pieces.
          const done = type === 'response.shell_call_command.done';
          // Not a string: its JSON text, as a call's arguments (argumentsText).
          const piece = argumentsText(type === 'response.shell_call_command.delta' ? ev?.delta : ev?.command);
          if (piece !== undefined && piece.length > 0) {
            const key = `#${num(ev?.output_index) ?? 0}:${num(ev?.command_index) ?? 0}`;
            const a = (args ??= new StreamedArguments(kept));
            if (!(done ? a.set(key, piece) : a.add(key, piece)) && guarded) throw tooManyToolCalls();
          }
          return '';
        }
        if (
          type === 'response.reasoning_summary_text.delta' ||
          type === 'response.reasoning_summary_text.done' ||
          type === 'response.reasoning_summary_part.added' ||
          type === 'response.reasoning_summary_part.done'
        ) {
          // A reasoning summary's text, by item and summary index: read by the end check as the
          // model's reasoning, and piiGuard block holds the stream from here (responses-reasoning.ts).
          const delta = type === 'response.reasoning_summary_text.delta';
          // Not a string: its JSON text (valueText, responses-reasoning.ts).
          const piece = valueText(
            delta
              ? ev?.delta
              : type === 'response.reasoning_summary_text.done'
                ? ev?.text
                : obj(ev?.part)?.text,
          );
          if (piece !== undefined && piece.length > 0) setReasoning(summaryKey(ev), piece, !delta);
          return '';
        }
        if (type === 'response.reasoning_text.delta' || type === 'response.reasoning_text.done') {
          // A reasoning item's content (`reasoning_text`), by item and content index, as a summary.
          const delta = type === 'response.reasoning_text.delta';
          const piece = valueText(delta ? ev?.delta : ev?.text);
          if (piece !== undefined && piece.length > 0) setReasoning(contentKey(ev), piece, !delta);
          return '';
        }
        if (
          (type === 'response.content_part.added' || type === 'response.content_part.done') &&
          obj(ev?.part)?.type === 'reasoning_text'
        ) {
          // A reasoning_text part whole (its added event's text, its done event's); not a
          // string: its JSON text (valueText, responses-reasoning.ts).
          const whole = valueText(obj(ev?.part)?.text);
          if (whole !== undefined && whole.length > 0) setReasoning(contentKey(ev), whole, true);
          return '';
        }
        if (type === 'response.output_item.added' || type === 'response.output_item.done') {
          const item = obj(ev?.item);
          // A reasoning item's texts whole, by their own indexes (the keys their events give them).
          for (const r of reasoningTexts(item)) {
            const whole = reasoningRead(r);
            if (whole !== undefined) setReasoning(reasoningKey(item, ev?.output_index, r[2]), whole, true);
          }
          // A function or custom tool call's arguments whole in its item (the key its argument
          // events have): read by the end check, and piiGuard block holds the stream from this
          // item (unchecked). Before, only the events and the terminal response were read: a
          // call sent in its item alone was delivered unread until the end.
          const called = itemArguments(item);
          if (called !== undefined && called.length > 0) {
            const key = str(item?.id) ?? `#${num(ev?.output_index) ?? 0}`;
            if (!(args ??= new StreamedArguments(kept)).set(key, called) && guarded) throw tooManyToolCalls();
          }
          // A hosted call's input (a search query) whole in its item: read by the end check, and
          // piiGuard block holds the stream from this item (unchecked), so it is not delivered first.
          const inputs = hostedInputs(item);
          for (let n = 0; n < inputs.length; n++) {
            const [holder, field] = inputs[n]!;
            // Not a string: its JSON text (responses-hosted-inputs.ts).
            const whole = argumentsText(holder[field]) ?? '';
            // The key its argument pieces have (an mcp_call's, a code_interpreter_call's; a
            // shell_call's commands by output index, as their events name them), or its own:
            // by its place among the item's inputs, as two of a computer_call's actions may
            // both have a `text` or keys at index 0 (one key would read only the last).
            const at = `#${num(ev?.output_index) ?? 0}`;
            const shell = item?.type === 'shell_call';
            const id = shell ? at : (str(item?.id) ?? at);
            const key = holder === item ? id : shell ? `${id}:${field}` : `${id}:${n}:${field}`;
            if (whole.length > 0 && !(args ??= new StreamedArguments(kept)).set(key, whole) && guarded)
              throw tooManyToolCalls();
          }
          const tool = calledTool(item);
          if (tool !== undefined) {
            // Each name an item gives (an added and a done event naming two tools: both read).
            const key = `${num(ev?.output_index) ?? str(item?.id) ?? ''}:${tool}`;
            calls ??= new Map();
            if (calls.has(key) || calls.size < MAX_STREAMED_CALLS) calls.set(key, tool);
            else if (guarded)
              throw new StreamLimitError(`stream_limit: more than ${MAX_STREAMED_CALLS} tool calls`);
          }
        }
        if (type === 'response.output_text.annotation.added') {
          const from = quotes?.length ?? 0;
          annotationTexts([ev?.annotation], (quotes ??= []));
          if (quotes.length === from) return '';
          // The texts as read: addFrom may cut them (a guarded stream keeps them all).
          const texts = quotes.slice(from);
          // Counted first: an unguarded stream past its cap keeps only what fits (kept-text.ts).
          const dropped = kept.dropped;
          kept.addFrom(quotes, from);
          if (kept.dropped !== dropped) {
            quotesDropped += kept.dropped - dropped;
            // The last one kept may be cut (addFrom: the rest are not kept at all).
            if (quotes.length > from) (quotesCut ??= new Set()).add(quotes.length - 1);
          }
          // Each read once more in its part: its repeats in the part's and item's done events are not new.
          const part = `${num(ev?.output_index) ?? 0}:${num(ev?.content_index) ?? 0}`;
          read ??= new ReadQuotes();
          for (let i = 0; i < texts.length; i++)
            read.add(part, texts[i] as string, quotes[from + i] === texts[i]);
          return '';
        }
        if (type === 'response.refusal.delta' || type === 'response.refusal.done') {
          const done = type === 'response.refusal.done';
          // Not a string: its JSON text (valueText, responses-output.ts).
          const r = valueText(done ? ev?.refusal : ev?.delta);
          if (r === undefined || r.length === 0) return '';
          refusing = true;
          setRefusal(`${num(ev?.output_index) ?? 0}:${num(ev?.content_index) ?? 0}`, r, done);
          return '';
        }
        // A refusal part whole in an added / done event (a server that sends it without its
        // refusal events): the text of that part, as refusal.done's. Before, it only marked the
        // stream as refusing: the end check of a stream cut before its terminal event never read it.
        const parts = refusalParts(type, ev);
        if (parts !== undefined)
          for (const [k, r] of parts) {
            refusing = true;
            if (r.length > 0) setRefusal(k, r, true);
          }
        if (repeats.repeat(type, ev, text, text.length + textDropped)) unreadRepeat = true;
        const partQuotes = partAnnotationTexts(type, ev);
        if (partQuotes !== undefined)
          for (const [part, list] of partQuotes) {
            read ??= new ReadQuotes();
            // A text is new in the list only past the times its part already carried it (read-quotes.ts).
            const inList = new Map<string, number>();
            for (const q of list) {
              const n = (inList.get(q) ?? 0) + 1;
              inList.set(q, n);
              if (n <= read.count(part, q)) continue;
              const keep = kept.keep(q);
              if (keep.length < q.length) quotesDropped += q.length - keep.length;
              // Read, kept whole or not: its next repeat (the item's done event after the part's) is not new.
              read.add(part, q, keep.length === q.length);
              if (keep.length === 0) continue;
              if (keep.length < q.length) (quotesCut ??= new Set()).add(quotes?.length ?? 0);
              (quotes ??= []).push(keep);
            }
          }
        if (type === 'response.created' || type === 'response.in_progress') {
          const r = obj(ev?.response);
          s.id ??= str(r?.id);
          s.model ??= str(r?.model);
        } else if (
          type === 'response.completed' ||
          type === 'response.incomplete' ||
          type === 'response.failed'
        ) {
          // The terminal event carries the full response, usage included: take it whole, its
          // text joined under a cap of its own (a copy beside the deltas', each bounded).
          s = readResponseObject(ev?.response, new KeptText(guarded));
          done = true;
        }
        return '';
      },
      summary(): ResponseSummary {
        const out: ResponseSummary = { ...s, text: done && s.text.length > 0 ? s.text : text };
        // Unguarded: the terminal response's text characters past its cap (readResponseObject).
        const terminalDropped = s.droppedChars ?? 0;
        // The summary's text is the deltas' (a terminal text cut short is the terminal's, even if
        // it reads as the deltas' kept prefix).
        const deltasText = out.text === text && terminalDropped === 0;
        // No terminal event: the calls its output would have listed are those the items named.
        if (!done && calls !== undefined) out.toolCalls = [...calls.values()];
        if (cuts !== undefined && deltasText) out.cuts = cuts;
        // Parts repeated with text their deltas did not carry, when no terminal text holds them.
        const unread = unreadRepeat && deltasText ? repeats.unread : undefined;
        if (unread !== undefined) out.side = [...(s.side ?? []), unread];
        // Unguarded past the cap, a terminal response with texts of a kind (side texts, tool
        // arguments) is taken to repeat the stream's texts of that kind the copy cut: they are
        // not added again, nor their characters not kept counted (see droppedChars below).
        const cutSide = done && kept.truncated && (s.side?.length ?? 0) > 0;
        const cutArgs = done && kept.truncated && (s.toolArguments?.length ?? 0) > 0;
        if (!done && (quotes !== undefined || refusals !== undefined))
          out.side = [...(out.side ?? []), ...(quotes ?? []), ...(refusals?.values() ?? [])];
        else if (done && (quotes !== undefined || refusals !== undefined)) {
          // The terminal response's parts are read already (readResponseObject); a quote or
          // refusal it does not repeat (failed, incomplete) was still delivered, so it is read too.
          const read = new Set(s.side);
          const extra: string[] = [];
          for (const [i, q] of (quotes ?? []).entries())
            if (!read.has(q) && !(cutSide && quotesCut?.has(i) === true)) extra.push(q);
          for (const [k, r] of refusals?.entries() ?? [])
            if (!read.has(r) && !(cutSide && refusals!.isShort(k))) extra.push(r);
          if (extra.length > 0) out.side = [...(out.side ?? []), ...extra];
        }
        if (args !== undefined) {
          // The terminal response's calls are read already; ones it does not repeat were delivered.
          const read = new Set(out.toolArguments);
          const extra = (cutArgs ? args.wholeTexts() : args.texts()).filter((a) => !read.has(a));
          if (extra.length > 0) out.toolArguments = [...(out.toolArguments ?? []), ...extra];
        }
        if (kept.truncated || terminalDropped > 0) {
          // The characters read and not kept of the texts the summary holds copies of, each
          // counted once (outputChars adds them): not the deltas' and repeated parts' when the
          // terminal text replaced them, nor those of the kinds a terminal response repeats.
          let dropped = kept.dropped + terminalDropped;
          if (!deltasText) dropped -= textDropped + repeats.dropped;
          if (cutSide) dropped -= quotesDropped + (refusals?.dropped ?? 0);
          if (cutArgs) dropped -= args?.dropped ?? 0;
          out.droppedChars = dropped;
        }
        if (reasoning !== undefined) {
          // The same for the reasoning: what the terminal response does not repeat was delivered.
          const read = new Set(out.reasoning);
          const extra = reasoning.texts().filter((r) => !read.has(r));
          if (extra.length > 0) out.reasoning = [...(out.reasoning ?? []), ...extra];
        }
        return out;
      },
      get quotes() {
        return quotes;
      },
      get unchecked() {
        return refusing || unreadRepeat || args !== undefined || reasoning !== undefined;
      },
      get complete() {
        return done;
      },
    };
  },
};

/**
 * The `function_call` items' `arguments` and `custom_tool_call` items' `input`, the hosted and
 * executor tools' inputs (tool-arguments.ts), and the reasoning items' texts (responses-reasoning.ts).
 */
function responsesToolArguments(data: unknown): ArgumentSlot[] {
  const out: ArgumentSlot[] = [];
  for (const item of arr(obj(data)?.output)) {
    const o = obj(item);
    if (o?.type === 'function_call') textSlot(o, 'arguments', out);
    else if (o?.type === 'custom_tool_call') textSlot(o, 'input', out);
    else if (o?.type === 'reasoning') reasoningSlots(o, out);
    else for (const [holder, field] of hostedInputs(o)) textSlot(holder, field, out);
  }
  return out;
}

/**
 * A `function_call` item's `arguments`, a `custom_tool_call`'s `input`, as the guards read them
 * (argumentsText: a value that is not a string its JSON text); undefined for other items.
 */
function itemArguments(o: Record<string, unknown> | undefined): string | undefined {
  if (o?.type === 'function_call') return argumentsText(o.arguments);
  return o?.type === 'custom_tool_call' ? argumentsText(o.input) : undefined;
}

/** Refusal parts kept apart per stream; past this the stream is cut (StreamLimitError). */
const MAX_REFUSAL_PARTS = 1024;

/** The annotation texts of each output_text part a content_part / output_item event carries, by part key (`o:c`); undefined for none. */
function partAnnotationTexts(
  type: string | undefined,
  ev: Record<string, unknown> | undefined,
): [string, string[]][] | undefined {
  const o = num(ev?.output_index) ?? 0;
  let parts: unknown[];
  let first: number;
  if (type === 'response.content_part.added' || type === 'response.content_part.done') {
    parts = [ev?.part];
    first = num(ev?.content_index) ?? 0;
  } else if (type === 'response.output_item.added' || type === 'response.output_item.done') {
    parts = arr(obj(ev?.item)?.content);
    first = 0;
  } else return undefined;
  let out: [string, string[]][] | undefined;
  for (const [i, part] of parts.entries()) {
    const p = obj(part);
    if (p?.type !== 'output_text' || !Array.isArray(p.annotations) || p.annotations.length === 0) continue;
    const texts: string[] = [];
    annotationTexts(p.annotations, texts);
    // The key its annotation.added events have: output and content index.
    if (texts.length > 0) (out ??= []).push([`${o}:${first + i}`, texts]);
  }
  return out;
}

/**
 * The refusal parts with text an added / done event's part or item carries (sent whole, without
 * deltas), each with the key its refusal events have (output and content index); undefined for none.
 */
function refusalParts(
  type: string | undefined,
  ev: Record<string, unknown> | undefined,
): [string, string][] | undefined {
  const o = num(ev?.output_index) ?? 0;
  let out: [string, string][] | undefined;
  if (type === 'response.content_part.added' || type === 'response.content_part.done') {
    const p = obj(ev?.part);
    if (isRefusalPart(p)) out = [[`${o}:${num(ev?.content_index) ?? 0}`, valueText(p.refusal)!]];
  } else if (type === 'response.output_item.added' || type === 'response.output_item.done')
    for (const [ci, part] of arr(obj(ev?.item)?.content).entries()) {
      const p = obj(part);
      if (isRefusalPart(p)) (out ??= []).push([`${o}:${ci}`, valueText(p.refusal)!]);
    }
  return out;
}

/**
 * Call items of tools that have no name of their own, named as toolNames names the declared tool
 * (its type), so one allowlist reads both sides: the application runs a shell command or a file
 * patch; an MCP call sent the conversation to the server the request named. Not the hosted
 * tools OpenAI runs, whose declared types vary (`web_search`, `web_search_preview`, dated ones).
 */
const CALLED_TOOL: Readonly<Record<string, string>> = Object.assign(
  Object.create(null) as Record<string, string>,
  {
    local_shell_call: 'local_shell',
    shell_call: 'shell',
    apply_patch_call: 'apply_patch',
    mcp_call: 'mcp',
  },
);

/** The tool an output item calls, as toolAllowlistGuard reads it (undefined: not a tool call). */
function calledTool(o: Record<string, unknown> | undefined): string | undefined {
  // A custom tool's call is run by the application as a function's is (toolAllowlistGuard).
  if (o?.type === 'function_call' || o?.type === 'custom_tool_call') return str(o.name);
  return CALLED_TOOL[str(o?.type) ?? ''];
}

/** Tool-call items a stream names before its terminal event, kept per stream; past this the stream is cut. */
const MAX_STREAMED_CALLS = 1024;

/**
 * A Responses object read: a complete response, or a stream's terminal event's (`kept`: the
 * call's cap for the joined text, a copy of the parts' texts; past it an unguarded call keeps a
 * prefix and counts the rest in `droppedChars`, a guarded one is cut, as a stream's deltas' copy
 * is). Before, a terminal or complete text of any length was joined whole. The side texts and
 * tool arguments are the response's own strings, not copies.
 */
function readResponseObject(data: unknown, kept?: KeptText): ResponseSummary {
  const d = obj(data);
  const s = emptySummary();
  s.id = str(d?.id);
  s.model = str(d?.model);
  const status = str(d?.status);
  if (status !== undefined) s.finishReasons.push(status);
  const texts: string[] = [];
  const refusals: string[] = [];
  for (const item of arr(d?.output)) {
    const o = obj(item);
    const tool = calledTool(o);
    if (tool !== undefined) s.toolCalls.push(tool);
    // Streams: the terminal response's tool-call arguments, read by the end check (tool-arguments.ts);
    // not a string: their JSON text, as the complete response's (textSlot).
    const a = itemArguments(o);
    if (a !== undefined && a.length > 0) (s.toolArguments ??= []).push(a);
    for (const [holder, field] of hostedInputs(o)) {
      const h = argumentsText(holder[field]);
      if (h !== undefined && h.length > 0) (s.toolArguments ??= []).push(h);
    }
    for (const t of reasoningTexts(o)) {
      const r = reasoningRead(t);
      if (r !== undefined) (s.reasoning ??= []).push(r);
    }
    for (const part of arr(o?.content)) {
      const p = obj(part);
      const read = p?.type === 'output_text' ? valueText(p.text) : undefined;
      if (read !== undefined) texts.push(read);
      if (p?.type === 'output_text') annotationTexts(p.annotations, (s.side ??= []));
      if (isRefusalPart(p)) refusals.push(valueText(p.refusal)!);
    }
  }
  // After the annotations, as responsesOutputTexts orders them.
  if (refusals.length > 0) (s.side ??= []).push(...refusals);
  // Back to back, as the streamed deltas run on from one part (and item) into the next
  // (responses-output.ts): '\n' between them hid an address cut between two parts.
  s.text = kept === undefined ? texts.join('') : kept.join(texts);
  if (kept?.truncated === true) s.droppedChars = kept.dropped;
  const usage = obj(d?.usage);
  s.inputTokens = num(usage?.input_tokens);
  s.outputTokens = num(usage?.output_tokens);
  return s;
}

/**
 * openai 7's `beta.responses.create` (`POST /responses?beta=true`): the Responses request and
 * events with beta fields, its own method (not `responses.create`), so it is wrapped on its own.
 * The client takes `betas` out of the body (into the `openai-beta` header) before it is prepared.
 */
export const openaiBetaResponsesAdapter: ProviderAdapter = {
  ...openaiResponsesAdapter,
  method: 'openai.beta.responses.create',
};
