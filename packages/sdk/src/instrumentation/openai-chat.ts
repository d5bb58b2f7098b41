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
import type { KeptText } from './kept-text.ts';
import { annotationTexts, writeAnnotationTexts } from './annotations.ts';
import { contentParts, otherContentTexts, scalarContent, writeContentParts } from './chat-content-parts.ts';
import { audioTranscript, writeAudioTranscript } from './chat-audio.ts';
import { chatReasoningSlots } from './chat-reasoning.ts';
import { dropChoiceLogprobs } from './logprobs.ts';
import { ChatStreamAccumulator } from './openai-chat-stream.ts';
import { guardMessageOf, withMessageText } from './message-text.ts';
import { splitJoined, type OutputTexts } from './output-texts.ts';
import { chatLanes, rewriteChatChunk } from './stream-item-rewrite.ts';
import { textSlot, withToolArguments, type ArgumentSlot } from './tool-arguments.ts';
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

  readResponse(data: unknown, kept?: KeptText): ResponseSummary {
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
      // Content as parts (chat-content-parts.ts): the text-bearing parts joined, one text; one
      // part object as a one-part array; a number or boolean its JSON text.
      else otherContentTexts(message?.content, texts);
      for (const tc of arr(message?.tool_calls)) s.toolCalls.push(...toolCallNames(tc));
      const legacy = str(obj(message?.function_call)?.name);
      if (legacy !== undefined) s.toolCalls.push(legacy);
    }
    // Under the call's cap (kept-text.ts): the telemetry's copy, beside the body's own texts.
    s.text = kept === undefined ? texts.join('\n') : kept.join(texts, '\n');
    if (kept?.truncated === true) s.droppedChars = kept.dropped;
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
    return new ChatStreamAccumulator(guarded);
  },
};

/**
 * A chat completion's texts (output-texts.ts): each choice's `message.content` on its own (n > 1:
 * before, the rewrite of all of them went into choice 0 and the others were emptied), then the
 * choices' annotations' titles and URLs (annotations.ts) and refusals, each a text of its own. A
 * choice whose text changed loses its logprobs (logprobs.ts).
 *
 * The refusal (structured outputs: the model declines in `refusal`, `content` null) reaches the
 * app as text and can name what it declines to share; before, no output guard read it. So does
 * an audio answer's transcript (chat-audio.ts), read after the refusal.
 */
function chatOutputTexts(data: unknown): OutputTexts {
  const choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }> = [];
  const answer: string[] = [];
  const side: string[] = [];
  let calls: ArgumentSlot[] | undefined;
  // Which side texts are audio transcripts (OutputTexts.audio).
  let audio: number[] | undefined;
  for (const c of arr(obj(data)?.choices)) {
    const choice = obj(c);
    const message = obj(choice?.message);
    if (choice === undefined || message === undefined) continue;
    choices.push({ choice, message });
    if (typeof message.content === 'string') answer.push(message.content);
    // Content as parts (chat-content-parts.ts): the text and refusal parts joined, one answer
    // text (one part object as a one-part array); a number or boolean its JSON text.
    else otherContentTexts(message.content, answer);
    annotationTexts(message.annotations, side);
    if (hasRefusal(message)) side.push(message.refusal);
    // An audio answer's transcript (chat-audio.ts): the words its audio speaks.
    const transcript = audioTranscript(message);
    if (transcript !== undefined) (audio ??= []).push(side.push(transcript) - 1);
    if (message.tool_calls !== undefined || message.function_call !== undefined)
      chatToolArguments(message, (calls ??= []));
    // The model's reasoning, some servers' (chat-reasoning.ts).
    if (typeof message.reasoning_content === 'string' || typeof message.reasoning === 'string')
      chatReasoningSlots(message, (calls ??= []), choice);
  }
  const texts = plainChatTexts(data, choices, answer, side, audio);
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
  audio: number[] | undefined,
): OutputTexts {
  return new ChatTexts(data, choices, answer, side, audio);
}

/**
 * A chat completion's texts and their write-back. A class, not an object literal with a `write`
 * closure: made for every guarded chat call, where the write-back runs only on a rewrite (issue 13).
 */
class ChatTexts implements OutputTexts {
  readonly answer: string[];
  readonly side: string[];
  readonly audio: number[] | undefined;
  private readonly data: unknown;
  private readonly choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }>;

  constructor(
    data: unknown,
    choices: Array<{ choice: Record<string, unknown>; message: Record<string, unknown> }>,
    answer: string[],
    side: string[],
    audio: number[] | undefined,
  ) {
    this.data = data;
    this.choices = choices;
    this.answer = answer;
    this.side = side;
    this.audio = audio;
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
      } else {
        const parts = contentParts(message.content);
        if (parts !== undefined) {
          // A part object alone is written into as a one-part array's part (its shape kept).
          const w = writeContentParts(parts, nextAnswer, a);
          a = w.at;
          // The choice's tokens repeat the parts' text (logprobs.ts).
          if (w.changed) dropChoiceLogprobs(choice);
        } else {
          // A number or boolean: read as its JSON text, a rewrite written as a string; unchanged,
          // it stays as sent.
          const read = scalarContent(message.content);
          if (read !== undefined) {
            const next = nextAnswer[a++] ?? '';
            if (next !== read) {
              dropChoiceLogprobs(choice);
              realignAnnotations(message, read, next);
              message.content = next;
            }
          }
        }
      }
      if (hasRefusal(message)) {
        const next = nextSide[at++];
        if (typeof next === 'string' && next !== message.refusal) {
          // logprobs.refusal repeats it token by token (logprobs.ts).
          dropChoiceLogprobs(choice);
          message.refusal = next;
        }
      }
      // A rewritten transcript: its audio removed (chat-audio.ts), and the choice's tokens, which
      // a server giving logprobs with audio gives for the transcript, dropped (logprobs.ts).
      if (audioTranscript(message) !== undefined && writeAudioTranscript(message, nextSide[at++]))
        dropChoiceLogprobs(choice);
    }
    return this.data;
  }
}

function hasRefusal(m: Record<string, unknown>): m is Record<string, unknown> & { refusal: string } {
  return typeof m.refusal === 'string' && m.refusal.length > 0;
}
