import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  type Body,
  type ProviderAdapter,
  type ResponseSummary,
  type StreamAccumulator,
} from './adapter.ts';
import { finishReasonOf } from './finish-reason.ts';
import { KeptText } from './kept-text.ts';
import { dropChoiceLogprobs } from './logprobs.ts';
import { splitJoined, type OutputTexts } from './output-texts.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { completionLanes } from './stream-item-rewrite.ts';
import { echoLength, echoMark, EchoStream, promptTexts, readText } from './completions-echo.ts';
import { MAX_CHOICES, tooManyChoices } from './stream-limit.ts';
import type { GuardInput, GuardMessage } from './types.ts';

/**
 * openai's legacy text completions, `completions.create` (`POST /completions`,
 * gpt-3.5-turbo-instruct, fine-tuned base models), plain and streamed: a bare `prompt` and
 * `choices[].text` instead of messages. It reaches the model without chat.completions.create,
 * so unwrapped it passed no guard.
 *
 * `prompt` is a string or a list of strings (one completion per string: each a `user`
 * message, written back in place); `suffix` (insert mode) is the user's text too, read as a
 * message after them. Token-id prompts (numbers) are not read: the guards cannot read token
 * ids, and the call is still traced and metered. The answer's choices are read back to back,
 * as the chat adapter reads several choices. A list of prompts answers each in its own choice
 * (answers to different prompts, not alternatives); an output guard's rewrite goes back choice
 * by choice, each choice checked on its own (output-texts.ts). Streamed, each
 * choice's `text` is rewritten on its own (streamLanes); past 128 choices (a streamed list of
 * prompts x n) the stream is held from their first character to its end, each still checked
 * on its own (pii-stream-lanes.ts). `echo: true`: the echoed prompt is not output, streamed or
 * not (completions-echo.ts).
 */
export const openaiCompletionsAdapter: ProviderAdapter = {
  provider: 'openai',
  operation: 'text_completion',
  method: 'openai.completions.create',
  guarded: true,

  guardInput(body: Body): GuardInput {
    const messages: GuardMessage[] = promptTexts(body.prompt).map((content) => ({ role: 'user', content }));
    const suffix = str(body.suffix);
    if (suffix !== undefined && suffix.length > 0) messages.push({ role: 'user', content: suffix });
    return {
      provider: 'openai',
      operation: 'text_completion',
      model: str(body.model) ?? '',
      system: '',
      messages,
      tools: [],
      body,
    };
  },

  applyInput(body: Body, messages: GuardMessage[] | undefined): Body {
    if (messages === undefined) return body;
    const prompt = body.prompt;
    let i = 0;
    const next = (old: string): string => messages[i++]?.content ?? old;
    let out: Body = body;
    if (typeof prompt === 'string') out = { ...out, prompt: next(prompt) };
    else if (Array.isArray(prompt) && prompt.every((p) => typeof p === 'string'))
      out = { ...out, prompt: (prompt as string[]).map(next) };
    const suffix = str(body.suffix);
    if (suffix !== undefined && suffix.length > 0) out = { ...out, suffix: next(suffix) };
    return out;
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
      const text = str(choice?.text);
      if (text !== undefined) texts.push(text);
    }
    // Under the call's cap, as chat's (openai-chat.ts).
    s.text = kept === undefined ? texts.join('\n') : kept.join(texts, '\n');
    if (kept?.truncated === true) s.droppedChars = kept.dropped;
    const usage = obj(d?.usage);
    s.inputTokens = num(usage?.prompt_tokens);
    s.outputTokens = num(usage?.completion_tokens);
    return s;
  },

  applyOutput(data: unknown, text: string): unknown {
    const t = completionsOutputTexts(data);
    return t.write(splitJoined(t.answer, text), t.side);
  },

  outputTexts: completionsOutputTexts,

  rewriteStreamItem(item: unknown, rw: StreamItemRewrite): unknown {
    for (const c of arr(obj(item)?.choices)) {
      const choice = obj(c);
      if (choice === undefined || typeof choice.text !== 'string' || choice.text.length === 0) continue;
      // The echoed prompt is delivered as sent; what follows it in the stream's text (completions-echo.ts).
      const mark = echoMark(choice);
      const echo = typeof mark === 'number' ? mark : 0;
      if (echo >= choice.text.length) continue;
      const own = echo > 0 ? choice.text.slice(echo) : choice.text;
      const replay = typeof mark === 'string' ? mark : '';
      const read = replay.length > 0 ? replay + own : own;
      let next = rw.next(read, num(choice.index) ?? 0);
      // A departed echo: its matched prefix went out as sent in earlier chunks and is read here
      // in front of this text. The reader gets the rewrite past what it already has: past the
      // prefix when the rewrite kept it, else past the part of it the rewrite kept (a finding
      // straddling the divergence point: its rest is replaced, its start was delivered).
      if (replay.length > 0) next = next.slice(sharedPrefix(next, replay));
      // This chunk's tokens repeat the text it had (logprobs.ts).
      if (next !== own) dropChoiceLogprobs(choice);
      choice.text = echo > 0 ? choice.text.slice(0, echo) + next : next;
    }
    return item;
  },

  // n > 1: each choice's text redacted on its own (pii-stream-lanes.ts).
  streamLanes: completionLanes,

  newStream(body?: Body, guarded = true): StreamAccumulator {
    const s = emptySummary();
    const echo = EchoStream.of(body);
    const finish = new Map<number, string>();
    /** n > 1: each choice's text, joined at the end as readResponse joins them (openai-chat.ts). */
    let choices: Map<number, string> | undefined;
    /** The characters of the texts above, against the end check's cap (kept-text.ts). */
    const kept = new KeptText(guarded);
    return {
      observe(item: unknown): string {
        const chunk = obj(item);
        if (chunk === undefined) return '';
        s.id ??= str(chunk.id);
        s.model ??= str(chunk.model);
        let delta = '';
        /** The characters of `delta` kept: all of it, but on an unguarded stream past its cap (kept-text.ts). */
        let keptDelta = 0;
        for (const c of arr(chunk.choices)) {
          const choice = obj(c);
          let text = str(choice?.text);
          const index = num(choice?.index) ?? 0;
          // echo: true: the prompt the choice starts with is the user's input, not output.
          if (echo !== undefined && choice !== undefined && text !== undefined && text.length > 0) {
            const k = echo.take(choice, index, text);
            if (k > 0) text = text.slice(k);
            else text = readText(choice, text); // a departed echo's prefix is read here (one lookup)
          }
          const k = text !== undefined ? kept.take(text.length) : 0;
          if (text !== undefined && text.length > 0 && (index !== 0 || choices !== undefined)) {
            // Choice 0's text so far, this chunk's pieces of it included (openai-chat.ts).
            choices ??= new Map([[0, s.text + delta.slice(0, keptDelta)]]);
            const before = choices.get(index);
            if (before !== undefined || choices.size < MAX_CHOICES)
              choices.set(index, (before ?? '') + (k === text.length ? text : text.slice(0, k)));
            else if (guarded) throw tooManyChoices();
          }
          if (text !== undefined) {
            delta += text;
            keptDelta += k;
          }
          const fr = finishReasonOf(choice);
          // Telemetry only (finish reasons; complete reads the size): past the cap not kept.
          if (fr !== undefined && (finish.size < MAX_CHOICES || finish.has(index))) finish.set(index, fr);
        }
        // stream_options.include_usage: the last chunk carries the call's usage; assign.
        const usage = obj(chunk.usage);
        if (usage !== undefined) {
          s.inputTokens = num(usage.prompt_tokens) ?? s.inputTokens;
          s.outputTokens = num(usage.completion_tokens) ?? s.outputTokens;
        }
        if (choices === undefined) s.text += keptDelta === delta.length ? delta : delta.slice(0, keptDelta);
        return delta;
      },
      summary(): ResponseSummary {
        const finishReasons = [...finish.values()];
        if (kept.truncated) s.droppedChars = kept.dropped;
        // An echo the stream ended inside is output (only the whole prompt's echo is not): read.
        const partial = echo?.pending() ?? [];
        if (partial.length > 0) return withPartialEchoes(s, choices, partial, finishReasons);
        const texts = choiceTexts(choices);
        return texts === undefined
          ? { ...s, finishReasons }
          : { ...s, text: texts.join('\n'), texts, finishReasons };
      },
      get complete() {
        return finish.size > 0;
      },
    };
  },
};

/** The summary with each partial echo read as its choice's text (its choice has nothing after it). */
function withPartialEchoes(
  s: ResponseSummary,
  choices: Map<number, string> | undefined,
  partial: Array<[number, string]>,
  finishReasons: string[],
): ResponseSummary {
  const all = new Map(choices ?? (s.text.length > 0 ? [[0, s.text]] : []));
  for (const [index, prefix] of partial) all.set(index, prefix + (all.get(index) ?? ''));
  const texts = choiceTexts(all) as string[];
  return texts.length === 1
    ? { ...s, text: texts[0] as string, finishReasons }
    : { ...s, text: texts.join('\n'), texts, finishReasons };
}

/** How many leading characters `a` and `b` share. */
function sharedPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** The choices' texts with any, in index order (the summary joins them by a line break); undefined for one choice. */
function choiceTexts(choices: Map<number, string> | undefined): string[] | undefined {
  if (choices === undefined) return undefined;
  return [...choices.entries()]
    .filter(([, t]) => t.length > 0)
    .sort(([a], [b]) => a - b)
    .map(([, t]) => t);
}

/**
 * A completion's texts (output-texts.ts): each choice's `text` on its own, so a rewrite goes
 * back choice by choice. A choice whose text changed loses its logprobs (logprobs.ts).
 */
function completionsOutputTexts(data: unknown, body?: Body): OutputTexts {
  const choices: Array<Record<string, unknown>> = [];
  for (const c of arr(obj(data)?.choices)) {
    const choice = obj(c);
    if (choice !== undefined && typeof choice.text === 'string') choices.push(choice);
  }
  const echoed = choices.map((c, i) => echoLength(body, c, i));
  return {
    answer: choices.map((c, i) => (c.text as string).slice(echoed[i])),
    side: [],
    write(answer) {
      for (const [i, choice] of choices.entries()) {
        const next = (choice.text as string).slice(0, echoed[i]) + (answer[i] ?? '');
        // The choice's tokens (and text_offset) repeat the text it had (logprobs.ts).
        if (next !== choice.text) dropChoiceLogprobs(choice);
        choice.text = next;
      }
      return data;
    },
  };
}
