import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  toolCallNames,
  toolNames,
  type Body,
  type ProviderAdapter,
  type ResponseSummary,
  type StreamAccumulator,
} from './adapter.ts';
import { realignAnnotations } from './annotation-offsets.ts';
import { annotationTexts, writeAnnotationTexts } from './annotations.ts';
import { contentPartTexts, deltaContent, writeContentParts } from './chat-content-parts.ts';
import { chatReasoningSlots, readReasoningPieces } from './chat-reasoning.ts';
import { finishReasonOf } from './finish-reason.ts';
import { dropChoiceLogprobs } from './logprobs.ts';
import { guardMessageOf, withMessageText } from './message-text.ts';
import { splitJoined, type OutputTexts } from './output-texts.ts';
import { chatLanes, rewriteChatChunk } from './stream-item-rewrite.ts';
import { MAX_CHOICES, tooManyChoices } from './stream-limit.ts';
import {
  StreamedArguments,
  textSlot,
  tooManyToolCalls,
  withToolArguments,
  type ArgumentSlot,
} from './tool-arguments.ts';
import type { GuardInput, GuardMessage } from './types.ts';

/** `openai` 7.x `chat.completions.create`, plain and streamed (chunks with optional usage). */
export const openaiChatAdapter: ProviderAdapter = {
  provider: 'openai',
  operation: 'chat',
  method: 'openai.chat.completions.create',
  guarded: true,

  guardInput(body: Body): GuardInput {
    const messages: GuardMessage[] = arr(body.messages).map((m) => {
      const o = obj(m);
      return guardMessageOf(str(o?.role) ?? 'user', o);
    });
    const system = messages
      .filter((m) => m.role === 'system' || m.role === 'developer')
      .map((m) => m.content)
      .join('\n');
    return {
      provider: 'openai',
      operation: 'chat',
      model: str(body.model) ?? '',
      system,
      messages,
      // The deprecated `functions` are tools too (the API still runs them).
      tools: [...toolNames(body.tools), ...toolNames(body.functions)],
      body,
    };
  },

  applyInput(body: Body, messages: GuardMessage[] | undefined): Body {
    if (messages === undefined) return body;
    const original = arr(body.messages);
    const next = original.map((m, i) => {
      const replacement = messages[i];
      return replacement === undefined ? m : withMessageText(m, replacement.content);
    });
    return { ...body, messages: next };
  },

  isStream: (body) => body.stream === true,

  readResponse(data: unknown): ResponseSummary {
    const d = obj(data);
    const s = emptySummary();
    s.id = str(d?.id);
    s.model = str(d?.model);
    const texts: string[] = [];
    for (const c of arr(d?.choices)) {
      const choice = obj(c);
      const fr = str(choice?.finish_reason);
      if (fr !== undefined) s.finishReasons.push(fr);
      const message = obj(choice?.message);
      const content = str(message?.content);
      if (content !== undefined) texts.push(content);
      // Content as parts (chat-content-parts.ts): each text-bearing part a text.
      else if (Array.isArray(message?.content)) contentPartTexts(message.content, texts);
      for (const tc of arr(message?.tool_calls)) s.toolCalls.push(...toolCallNames(tc));
      const legacy = str(obj(message?.function_call)?.name);
      if (legacy !== undefined) s.toolCalls.push(legacy);
    }
    s.text = texts.join('\n');
    const usage = obj(d?.usage);
    s.inputTokens = num(usage?.prompt_tokens);
    s.outputTokens = num(usage?.completion_tokens);
    return s;
  },

  applyOutput(data: unknown, text: string): unknown {
    // A rewrite of readResponse's text: cut back into the choices (output-texts.ts).
    const t = chatOutputTexts(data);
    return t.write(splitJoined(t.answer, text), t.side);
  },

  outputTexts: chatOutputTexts,

  rewriteStreamItem: rewriteChatChunk,
  streamLanes: chatLanes,

  newStream(_body?: Body, guarded = true): StreamAccumulator {
    const s = emptySummary();
    const finish = new Map<number, string>();
    let sawFinish = false;
    /**
     * n > 1: each choice's text (its chunks alternate with the others'), joined at the end as
     * readResponse joins a plain response's choices, so the end checks (pii_detected, block,
     * leakage) read each choice's text whole, not the choices' pieces interleaved.
     */
    let choices: Map<number, string> | undefined;
    /** Each choice's refusal pieces joined: a side text of the end check (chatOutputTexts). */
    let refusals: Map<number, string> | undefined;
    /** Each tool call's argument pieces joined: read by the end check after the side texts. */
    let args: StreamedArguments | undefined;
    /** Each choice's reasoning pieces joined (chat-reasoning.ts): read by the end check last. */
    const reasoning: { reasoning?: StreamedArguments } = {};
    return {
      observe(item: unknown): string {
        const chunk = obj(item);
        if (chunk === undefined) return '';
        s.id ??= str(chunk.id);
        s.model ??= str(chunk.model);
        let delta = '';
        for (const c of arr(chunk.choices)) {
          const choice = obj(c);
          const d = obj(choice?.delta);
          // A string, or content parts' texts back to back (chat-content-parts.ts).
          const content = deltaContent(d?.content);
          if (content !== undefined && content.length > 0) {
            const index = num(choice?.index) ?? 0;
            if (index !== 0 || choices !== undefined) {
              // Until now the stream was choice 0 alone, this chunk's pieces so far included (a
              // server may send several choices in one chunk): before, they were left out.
              choices ??= new Map([[0, s.text + delta]]);
              const before = choices.get(index);
              if (before !== undefined || choices.size < MAX_CHOICES)
                choices.set(index, (before ?? '') + content);
              else if (guarded) throw tooManyChoices();
            }
            delta += content;
          }
          // The model's reasoning (chat-reasoning.ts): two property reads when there is none.
          if (
            (typeof d?.reasoning_content === 'string' || typeof d?.reasoning === 'string') &&
            !readReasoningPieces(num(choice?.index) ?? 0, d, reasoning) &&
            guarded
          )
            throw tooManyToolCalls();
          for (const tc of arr(d?.tool_calls)) {
            for (const name of toolCallNames(tc)) if (name.length > 0) s.toolCalls.push(name);
            // The arguments' pieces, by choice and call: read by the end check (tool-arguments.ts).
            const call = obj(tc);
            const piece = str(obj(call?.function)?.arguments) ?? str(obj(call?.custom)?.input);
            if (piece !== undefined && piece.length > 0) {
              const key = `${num(choice?.index) ?? 0}:${num(call?.index) ?? 0}`;
              if (!(args ??= new StreamedArguments()).add(key, piece) && guarded) throw tooManyToolCalls();
            }
          }
          const fc = obj(d?.function_call);
          const legacy = str(fc?.name);
          if (legacy !== undefined && legacy.length > 0) s.toolCalls.push(legacy);
          const legacyArgs = str(fc?.arguments);
          if (legacyArgs !== undefined && legacyArgs.length > 0) {
            const key = `${num(choice?.index) ?? 0}:f`;
            if (!(args ??= new StreamedArguments()).add(key, legacyArgs) && guarded) throw tooManyToolCalls();
          }
          // Web-search models' url_citations: quotes the end check reads after the answer, as a
          // complete answer's (rewriteChatChunk redacts them in the chunk; before, block and
          // detect never read them).
          if (Array.isArray(d?.annotations)) annotationTexts(d.annotations, (s.side ??= []));
          const refusal = str(d?.refusal);
          if (refusal !== undefined && refusal.length > 0) {
            const index = num(choice?.index) ?? 0;
            refusals ??= new Map();
            const before = refusals.get(index);
            if (before !== undefined || refusals.size < MAX_CHOICES)
              refusals.set(index, (before ?? '') + refusal);
            else if (guarded) throw tooManyChoices();
          }
          const fr = finishReasonOf(choice);
          if (fr !== undefined) {
            // Telemetry only (the span's finish reasons): past the cap a new choice's is not kept.
            const index = num(choice?.index) ?? 0;
            if (finish.size < MAX_CHOICES || finish.has(index)) finish.set(index, fr);
            sawFinish = true;
          }
        }
        // include_usage: one final chunk carries the whole call's usage; assign, never add.
        const usage = obj(chunk.usage);
        if (usage !== undefined) {
          s.inputTokens = num(usage.prompt_tokens) ?? s.inputTokens;
          s.outputTokens = num(usage.completion_tokens) ?? s.outputTokens;
        }
        if (choices === undefined) s.text += delta;
        return delta;
      },
      summary(): ResponseSummary {
        const finishReasons = [...finish.values()];
        const out: ResponseSummary = { ...summaryOf(s, choices), finishReasons };
        if (refusals !== undefined) {
          const side = [...(s.side ?? [])];
          for (const [, r] of [...refusals.entries()].sort(([a], [b]) => a - b)) side.push(r);
          out.side = side;
        }
        if (args !== undefined) out.toolArguments = args.texts();
        if (reasoning.reasoning !== undefined) out.reasoning = reasoning.reasoning.texts();
        return out;
      },

      get complete() {
        return sawFinish;
      },
      get quotes() {
        return s.side;
      },
      // Refusal, argument and reasoning pieces are read by the end check only.
      get unchecked() {
        return refusals !== undefined || args !== undefined || reasoning.reasoning !== undefined;
      },
      // Every delta joined while the stream is one choice; n > 1 joins the choices at the end.
      get text() {
        return choices === undefined ? s.text : undefined;
      },
    };
  },
};

/**
 * A chat completion's texts (output-texts.ts): each choice's `message.content` on its own (n > 1:
 * before, the rewrite of all of them went into choice 0 and the others were emptied), then the
 * choices' annotations' titles and URLs (annotations.ts) and refusals, each a text of its own. A
 * choice whose text changed loses its logprobs (logprobs.ts).
 *
 * The refusal (structured outputs: the model declines in `refusal`, `content` null) reaches the
 * app as text and can name what it declines to share; before, no output guard read it.
 */
function chatOutputTexts(data: unknown): OutputTexts {
  const choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }> = [];
  const answer: string[] = [];
  const side: string[] = [];
  let calls: ArgumentSlot[] | undefined;
  for (const c of arr(obj(data)?.choices)) {
    const choice = obj(c);
    const message = obj(choice?.message);
    if (choice === undefined || message === undefined) continue;
    choices.push({ choice, message });
    if (typeof message.content === 'string') answer.push(message.content);
    // Content as parts (chat-content-parts.ts): each text or refusal part an answer text.
    else if (Array.isArray(message.content)) contentPartTexts(message.content, answer);
    annotationTexts(message.annotations, side);
    if (hasRefusal(message)) side.push(message.refusal);
    if (message.tool_calls !== undefined || message.function_call !== undefined)
      chatToolArguments(message, (calls ??= []));
    // The model's reasoning, some servers' (chat-reasoning.ts).
    if (typeof message.reasoning_content === 'string' || typeof message.reasoning === 'string')
      chatReasoningSlots(message, (calls ??= []), choice);
  }
  const texts = plainChatTexts(data, choices, answer, side);
  return calls === undefined ? texts : withToolArguments(texts, calls);
}

/**
 * A chat message's tool calls' arguments (tool-arguments.ts): `tool_calls[].function.arguments`,
 * a custom tool's `tool_calls[].custom.input`, the legacy `function_call.arguments`.
 */
function chatToolArguments(message: Record<string, unknown>, out: ArgumentSlot[]): void {
  for (const tc of arr(message.tool_calls)) {
    const call = obj(tc);
    const fn = obj(call?.function);
    if (fn !== undefined) textSlot(fn, 'arguments', out);
    const custom = obj(call?.custom);
    if (custom !== undefined) textSlot(custom, 'input', out);
  }
  const legacy = obj(message.function_call);
  if (legacy !== undefined) textSlot(legacy, 'arguments', out);
}

function plainChatTexts(
  data: unknown,
  choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }>,
  answer: string[],
  side: string[],
): OutputTexts {
  return new ChatTexts(data, choices, answer, side);
}

/**
 * A chat completion's texts and their write-back. A class, not an object literal with a `write`
 * closure: made for every guarded chat call, where the write-back runs only on a rewrite (issue 13).
 */
class ChatTexts implements OutputTexts {
  readonly answer: string[];
  readonly side: string[];
  private readonly data: unknown;
  private readonly choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }>;

  constructor(
    data: unknown,
    choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }>,
    answer: string[],
    side: string[],
  ) {
    this.data = data;
    this.choices = choices;
    this.answer = answer;
    this.side = side;
  }

  write(nextAnswer: readonly string[], nextSide: readonly string[]): unknown {
    let a = 0;
    let at = 0;
    for (const { choice, message } of this.choices) {
      at = writeAnnotationTexts(message.annotations, nextSide, at);
      if (typeof message.content === 'string') {
        const next = nextAnswer[a++] ?? '';
        // The choice's tokens repeat the text it had (logprobs.ts); its annotations' offsets
        // point into it (annotation-offsets.ts).
        if (next !== message.content) {
          dropChoiceLogprobs(choice);
          realignAnnotations(message, message.content, next);
        }
        message.content = next;
      } else if (Array.isArray(message.content)) {
        const w = writeContentParts(message.content, nextAnswer, a);
        a = w.at;
        // The choice's tokens repeat the parts' text (logprobs.ts).
        if (w.changed) dropChoiceLogprobs(choice);
      }
      if (hasRefusal(message)) {
        const next = nextSide[at++];
        if (typeof next === 'string' && next !== message.refusal) {
          // logprobs.refusal repeats it token by token (logprobs.ts).
          dropChoiceLogprobs(choice);
          message.refusal = next;
        }
      }
    }
    return this.data;
  }
}

function hasRefusal(m: Record<string, unknown>): m is Record<string, unknown> & { refusal: string } {
  return typeof m.refusal === 'string' && m.refusal.length > 0;
}

/** The stream's summary: n > 1, each choice's text joined by a line break, as readResponse joins them. */
function summaryOf(s: ResponseSummary, choices: Map<number, string> | undefined): ResponseSummary {
  if (choices === undefined) return { ...s };
  const texts = [...choices.entries()]
    .filter(([, t]) => t.length > 0)
    .sort(([a], [b]) => a - b)
    .map(([, t]) => t);
  return { ...s, text: texts.join('\n'), texts };
}
