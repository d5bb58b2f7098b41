import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  toolCallNames,
  type ResponseSummary,
  type StreamAccumulator,
} from './adapter.ts';
import { annotationTexts } from './annotations.ts';
import { carriesAudio, transcriptPiece } from './chat-audio.ts';
import { readReasoningPieces } from './chat-reasoning.ts';
import { deltaContent } from './chat-content-parts.ts';
import { finishReasonOf } from './finish-reason.ts';
import { KeptText } from './kept-text.ts';
import { MAX_CHOICES, tooManyChoices } from './stream-limit.ts';
import { argumentsText, StreamedArguments, tooManyToolCalls } from './tool-arguments.ts';
import { ToolCallNames } from './tool-names.ts';

/**
 * The accumulator of an `openai` chat completions stream (openai-chat.ts newStream). A class,
 * not an object literal of closures with getters: V8 makes such a literal in dictionary mode
 * (%HasFastProperties false), and the stream's observer reads it several times per delta
 * (observe, quotes twice, text), each read then a lookup by name (issue 13).
 */
export class ChatStreamAccumulator implements StreamAccumulator {
  private readonly guarded: boolean;
  private readonly s: ResponseSummary = emptySummary();
  private readonly finish = new Map<number, string>();
  private sawFinish = false;
  /**
   * n > 1: each choice's text (its chunks alternate with the others'), joined at the end as
   * readResponse joins a plain response's choices, so the end checks (pii_detected, block,
   * leakage) read each choice's text whole, not the choices' pieces interleaved.
   */
  private choices: Map<number, string> | undefined = undefined;
  /** Each choice's refusal pieces joined: a side text of the end check (chatOutputTexts). */
  private refusals: Map<number, string> | undefined = undefined;
  /** Each choice's audio transcript pieces joined (chat-audio.ts): side texts after the refusals. */
  private transcripts: Map<number, string> | undefined = undefined;
  /** The stream carried audio: its data cannot be read, its transcript only whole (chat-audio.ts). */
  private audio = false;
  /** Each tool call's argument pieces joined: read by the end check after the side texts. */
  private args: StreamedArguments | undefined = undefined;
  /** Each choice's reasoning pieces joined (chat-reasoning.ts): read by the end check last. */
  private readonly reasoning: { reasoning?: StreamedArguments } = {};
  /** The characters of every text above, against the end check's cap (kept-text.ts). */
  private readonly kept: KeptText;
  /** The quotes (`s.side`) already counted in `kept`. */
  private sideCounted = 0;
  /** The tools the calls name, once a call (`s.toolCalls`), capped (tool-names.ts). */
  private readonly names: ToolCallNames;

  constructor(guarded: boolean) {
    this.guarded = guarded;
    this.kept = new KeptText(guarded);
    this.names = new ToolCallNames(this.s.toolCalls, guarded);
  }

  observe(item: unknown): string {
    const chunk = obj(item);
    if (chunk === undefined) return '';
    const s = this.s;
    const guarded = this.guarded;
    s.id ??= str(chunk.id);
    s.model ??= str(chunk.model);
    let delta = '';
    /** The characters of `delta` kept: all of it, but on an unguarded stream past its cap (kept-text.ts). */
    let keptDelta = 0;
    for (const c of arr(chunk.choices)) {
      const choice = obj(c);
      const d = obj(choice?.delta);
      // A string, or content parts' texts back to back (chat-content-parts.ts).
      const content = deltaContent(d?.content);
      if (content !== undefined && content.length > 0) {
        const index = num(choice?.index) ?? 0;
        const k = this.kept.take(content.length);
        if (index !== 0 || this.choices !== undefined) {
          // Until now the stream was choice 0 alone, this chunk's pieces so far included (a
          // server may send several choices in one chunk): before, they were left out.
          const choices = (this.choices ??= new Map([[0, s.text + delta.slice(0, keptDelta)]]));
          const before = choices.get(index);
          if (before !== undefined || choices.size < MAX_CHOICES)
            choices.set(index, (before ?? '') + (k === content.length ? content : content.slice(0, k)));
          else if (guarded) throw tooManyChoices();
        }
        delta += content;
        keptDelta += k;
      }
      // The model's reasoning (chat-reasoning.ts): two property reads when there is none.
      if (
        (typeof d?.reasoning_content === 'string' || typeof d?.reasoning === 'string') &&
        !readReasoningPieces(num(choice?.index) ?? 0, d, this.reasoning, this.kept) &&
        guarded
      )
        throw tooManyToolCalls();
      for (const tc of arr(d?.tool_calls)) {
        const call = obj(tc);
        // Each call's name once, however many of its chunks repeat it (tool-names.ts).
        const names = toolCallNames(tc);
        if (names.length > 0) {
          const key = `${num(choice?.index) ?? 0}:${num(call?.index) ?? 0}`;
          for (const name of names) if (name.length > 0) this.names.add(key, name);
        }
        // The arguments' pieces, by choice and call: read by the end check (tool-arguments.ts).
        // Not a string (an object: some servers send them parsed): their JSON text.
        const piece =
          argumentsText(obj(call?.function)?.arguments) ?? argumentsText(obj(call?.custom)?.input);
        if (piece !== undefined && piece.length > 0) {
          const key = `${num(choice?.index) ?? 0}:${num(call?.index) ?? 0}`;
          if (!(this.args ??= new StreamedArguments(this.kept)).add(key, piece) && guarded)
            throw tooManyToolCalls();
        }
      }
      const fc = obj(d?.function_call);
      const legacy = str(fc?.name);
      if (legacy !== undefined && legacy.length > 0) this.names.add(`${num(choice?.index) ?? 0}:f`, legacy);
      const legacyArgs = argumentsText(fc?.arguments);
      if (legacyArgs !== undefined && legacyArgs.length > 0) {
        const key = `${num(choice?.index) ?? 0}:f`;
        if (!(this.args ??= new StreamedArguments(this.kept)).add(key, legacyArgs) && guarded)
          throw tooManyToolCalls();
      }
      // Web-search models' url_citations: quotes the end check reads after the answer, as a
      // complete answer's (rewriteChatChunk redacts them in the chunk; before, block and
      // detect never read them).
      if (Array.isArray(d?.annotations)) {
        annotationTexts(d.annotations, (s.side ??= []));
        this.sideCounted = this.kept.addFrom(s.side, this.sideCounted);
      }
      const refusal = str(d?.refusal);
      if (refusal !== undefined && refusal.length > 0) {
        // Kept whole on a guarded stream (past the cap: cut); unguarded, up to its cap.
        const refusals = (this.refusals ??= new Map());
        const index = num(choice?.index) ?? 0;
        if (refusals.has(index) || refusals.size < MAX_CHOICES)
          addByChoice(refusals, index, this.kept.keep(refusal));
        else if (guarded) throw tooManyChoices();
      }
      if (carriesAudio(d)) {
        this.audio = true;
        const piece = transcriptPiece(d);
        if (piece !== undefined) {
          const transcripts = (this.transcripts ??= new Map());
          const index = num(choice?.index) ?? 0;
          if (transcripts.has(index) || transcripts.size < MAX_CHOICES)
            addByChoice(transcripts, index, this.kept.keep(piece));
          else if (guarded) throw tooManyChoices();
        }
      }
      const fr = finishReasonOf(choice);
      if (fr !== undefined) {
        // Telemetry only (the span's finish reasons): past the cap a new choice's is not kept.
        const index = num(choice?.index) ?? 0;
        if (this.finish.size < MAX_CHOICES || this.finish.has(index)) this.finish.set(index, fr);
        this.sawFinish = true;
      }
    }
    // include_usage: one final chunk carries the whole call's usage; assign, never add.
    const usage = obj(chunk.usage);
    if (usage !== undefined) {
      s.inputTokens = num(usage.prompt_tokens) ?? s.inputTokens;
      s.outputTokens = num(usage.completion_tokens) ?? s.outputTokens;
    }
    if (this.choices === undefined) s.text += keptDelta === delta.length ? delta : delta.slice(0, keptDelta);
    return delta;
  }

  summary(): ResponseSummary {
    const s = this.s;
    const finishReasons = [...this.finish.values()];
    const out: ResponseSummary = { ...summaryOf(s, this.choices), finishReasons };
    if (this.kept.truncated) out.droppedChars = this.kept.dropped;
    // The refusals, then the audio transcripts, by choice: side texts after the quotes.
    if (this.refusals !== undefined || this.transcripts !== undefined) {
      const side = [...(s.side ?? [])];
      byChoice(this.refusals, side);
      byChoice(this.transcripts, side);
      out.side = side;
      if (this.transcripts !== undefined) out.transcripts = this.transcripts.size;
    }
    if (this.args !== undefined) out.toolArguments = this.args.texts();
    if (this.reasoning.reasoning !== undefined) out.reasoning = this.reasoning.reasoning.texts();
    return out;
  }

  get complete(): boolean {
    return this.sawFinish;
  }

  get quotes(): readonly string[] | undefined {
    return this.s.side;
  }

  // Refusal, argument, reasoning and transcript pieces are read by the end check only; audio data
  // never (its transcript speaks it): block holds the stream from the first audio piece.
  get unchecked(): boolean {
    return (
      this.refusals !== undefined ||
      this.args !== undefined ||
      this.reasoning.reasoning !== undefined ||
      this.audio
    );
  }

  // Every delta joined while the stream is one choice; n > 1 joins the choices at the end.
  get text(): string | undefined {
    return this.choices === undefined && !this.kept.truncated ? this.s.text : undefined;
  }
}

/** `piece` appended to choice `index`'s text in `texts` (the caller checked MAX_CHOICES). */
function addByChoice(texts: Map<number, string>, index: number, piece: string): void {
  texts.set(index, (texts.get(index) ?? '') + piece);
}

/** The texts of `texts` appended to `out` in their choices' order. */
function byChoice(texts: Map<number, string> | undefined, out: string[]): void {
  if (texts === undefined) return;
  for (const [, t] of [...texts.entries()].sort(([a], [b]) => a - b)) out.push(t);
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
