import {
  detectSensitive,
  redact,
  type CategoryMetadata,
  type Metadata,
  type RedactionType,
} from '@llmsec/core';
import type {
  GuardContext,
  GuardDecision,
  GuardInput,
  GuardMessage,
  GuardOutput,
  InputGuard,
  OutputDecision,
  OutputGuard,
} from '../instrumentation/types.ts';
import { isToolRole } from '../instrumentation/tool-role.ts';
import {
  answerCutsOf,
  outputTextsOf,
  reasoningOf,
  audioTranscriptsOf,
  toolArgumentsOf,
} from '../instrumentation/output-texts.ts';
import { hostedOutputStart, isHostedOutput, newInputStart } from './new-input-start.ts';
import { detectMessage, readAnswerParts, redactMessage } from './pii-parts.ts';
import { PiiBlockLane } from './pii-block-lane.ts';
import { detectJsonAware, redactJsonAware } from './pii-json-numbers.ts';
import { PiiStreamRedaction } from './pii-stream-redact.ts';
import { PiiStreamLanes } from './pii-stream-lanes.ts';
import { StreamStates } from './stream-state.ts';
import {
  STREAM_LANES,
  STREAM_QUOTES,
  STREAM_REWRITER,
  type StreamLanesHook,
  type StreamQuotesHook,
  type StreamRewriter,
} from '../instrumentation/stream-rewriter.ts';

/**
 * Personal data and secrets (core's redaction detectors) in prompts and responses. Every
 * finding emits `pii_detected` with the types and the direction; then, by mode:
 * `detect` lets the text through, `redact` replaces each finding with a typed placeholder
 * before it reaches the provider (input) or the application (output), `block` refuses it.
 * System messages are the operator's, not the user's: they are not scanned.
 *
 * A chat resends its history every turn. On the input side `pii_detected` reports what the
 * call's new input holds (the user / tool messages since the last assistant turn), not the
 * history again: an email typed on turn 1 is one event, not one per later turn, and a reply
 * the output side reported is not reported again as input. `redact` still redacts the whole
 * history (the provider receives it every turn), silently where it is old; `block` still
 * refuses a request whose history holds a finding (a client that keeps a refused message).
 *
 * Streamed responses are acted on before the text reaches the application, chunk by chunk:
 * `block` cuts the stream before any character of a finding is delivered; `redact` holds back
 * the end that may still become a finding and delivers the text with each finding replaced by
 * the same placeholder, rewriting the stream's items (the deltas, and the done events and final
 * response that repeat the text), so the deltas join to what `redact` makes of the whole text
 * (pii-stream-redact.ts). `pii_detected` is recorded once per response at the stream's end, as
 * for a non-streamed response.
 */
export interface PiiGuardOptions {
  /** @default 'redact' */
  mode?: 'redact' | 'block' | 'detect';
  /** Which side(s) the guard acts on. @default ['input', 'output'] */
  directions?: Array<'input' | 'output'>;
  /** Only these types are looked for. @default every type core detects */
  types?: RedactionType[];
  /** @default 'pii' */
  layer?: string;
  /**
   * Input cap per message (and per text of a response: each choice, each quote beside the
   * answer, as a stream's choices), in UTF-16 units: personal data is looked for when it
   * starts in the first `maxChars` (read on up to 256 units past them, so data the cap cuts is
   * found whole); credentials (private keys, API keys, tokens, bearer tokens) are still
   * looked for, and in `redact` mode redacted, in the whole text. Everything is linear time;
   * the cap bounds how much the loosest detectors read. @default 65536
   */
  maxChars?: number;
}

/**
 * Streams (block and redact modes): text before the new chunk that is checked with it, and the most a
 * check holds back as the possible start of a finding (an address is at most 254 characters,
 * RFC 5321).
 */
const CHUNK_WINDOW = 256;
/** Streams (block and redact modes): new text is checked (and until then held back) in steps of this many characters. */
const CHUNK_STEP = 32;

export interface PiiGuard extends InputGuard, OutputGuard {}

export function piiGuard(options: PiiGuardOptions = {}): PiiGuard {
  const mode = options.mode ?? 'redact';
  if (mode !== 'redact' && mode !== 'block' && mode !== 'detect') {
    throw new TypeError(`piiGuard: mode must be redact, block or detect, got ${String(mode)}`);
  }
  const directions = new Set(options.directions ?? ['input', 'output']);
  for (const d of directions) {
    if (d !== 'input' && d !== 'output') throw new TypeError(`piiGuard: unknown direction ${String(d)}`);
  }
  const maxChars = options.maxChars ?? 65536;
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new TypeError(`piiGuard: maxChars must be a positive integer, got ${String(options.maxChars)}`);
  const redactOptions =
    options.types !== undefined ? { types: options.types, piiMaxChars: maxChars } : { piiMaxChars: maxChars };
  const layer = options.layer ?? 'pii';
  /** Per stream, block mode: each lane's check, and the types a check found (the stream is cut). */
  const streams = new StreamStates<{
    found: { types: string[] | undefined };
    lanes: PiiStreamLanes<PiiBlockLane>;
  }>();
  /** Per stream, redact mode: the text held and the released rewrite not delivered yet (per chat choice). */
  const redactions = new StreamStates<PiiStreamLanes>();
  const newRedaction = () => new PiiStreamRedaction(redactOptions, maxChars, CHUNK_WINDOW, CHUNK_STEP);

  function redaction(ctx: GuardContext): PiiStreamLanes {
    let r = redactions.get(ctx);
    if (r === undefined) {
      r = new PiiStreamLanes(newRedaction);
      redactions.set(ctx, r);
    }
    return r;
  }

  /** Redact mode: holds back what is not final; the stream observer delivers the rest through the rewriter below. */
  function redactChunk(_accumulated: string, delta: string, ctx: GuardContext): OutputDecision {
    return { action: 'allow', holdChars: redaction(ctx).push(delta) };
  }

  const rewriter: StreamRewriter = {
    next: (ctx, text, lane) => redaction(ctx).next(text, lane),
    changes: (ctx, lane) => redactions.get(ctx)?.changes(lane),
    end: (ctx) => redactions.get(ctx)?.end(),
    // A complete answer's parts (cuts) are read joined and apart, as checkTexts reads them.
    whole: (_ctx, text, cuts) =>
      cuts === undefined
        ? redactJsonAware(text, redactOptions).text
        : readAnswerParts(text, cuts, redactOptions, true).text,
  };

  /**
   * `fromTool`: every finding was in a tool's output (input_source: "tool"). `foundIn`: where in
   * the answer, given when its tool calls' arguments or the model's reasoning held a finding
   * (`text`, `tool_arguments`, `reasoning`, in that order, those that held one); absent, the
   * text alone. `audioRemoved`: redact rewrote an audio answer's transcript, so its audio is
   * removed (chat-audio.ts): `audio_removed: true`.
   */
  function record(
    types: string[],
    direction: 'input' | 'output',
    ctx: GuardContext,
    fromTool = false,
    foundIn?: string[],
    audioRemoved = false,
  ): void {
    const metadata: CategoryMetadata['pii_detected'] & Metadata = fromTool
      ? { pii_types: types, direction, input_source: 'tool' }
      : foundIn !== undefined
        ? { pii_types: types, direction, found_in: foundIn }
        : { pii_types: types, direction };
    ctx.emit('pii_detected', {
      description: `${types.join(', ')} in the ${direction}${fromTool ? ' (in a tool result)' : ''}${foundIn !== undefined ? ` (in ${foundIn.map(placeName).join(', ')})` : ''}${audioRemoved ? ' (audio removed)' : ''}`,
      metadata: audioRemoved ? { ...metadata, audio_removed: true } : metadata,
    });
  }

  /** detect and block modes: the types found, without copying the messages (the common case finds none). */
  function detectInput(input: GuardInput, ctx: GuardContext): GuardDecision {
    let found: Set<string> | undefined;
    let first = -1;
    let fromTool = true;
    const messages = input.messages;
    const start = mode === 'detect' ? newInputStart(messages) : 0;
    // A hosted tool's output comes back before the new input, and is new all the same.
    for (let i = hostedOutputStart(messages, start); i < messages.length; i++) {
      const m = messages[i] as GuardMessage;
      if (!scanned(m) || (i < start && !isHostedOutput(m.role))) continue;
      const types = detectMessage(m, redactOptions);
      if (types.length === 0) continue;
      found ??= new Set();
      for (const t of types) found.add(t);
      if (!isToolRole(m.role)) fromTool = false;
      // The block names a user's message when there is one: the user's doing comes first.
      if (first === -1 || (isToolRole((messages[first] as GuardMessage).role) && !isToolRole(m.role)))
        first = i;
    }
    if (found === undefined) return allow();
    const types = [...found];
    record(types, 'input', ctx, fromTool);
    return mode === 'block'
      ? { action: 'block', reason: `sensitive data in the prompt: ${types.join(', ')}`, message: first }
      : allow();
  }

  /**
   * Block mode only: each lane's chunk check (pii-block-lane.ts; one lane but for a chat stream
   * with n > 1), holding back what may still be a finding; a finding in any lane cuts the stream.
   */
  function blockState(ctx: GuardContext) {
    let state = streams.get(ctx);
    if (state === undefined) {
      const found: { types: string[] | undefined } = { types: undefined };
      const lane = () => new PiiBlockLane(redactOptions, CHUNK_WINDOW, CHUNK_STEP, found);
      state = { found, lanes: new PiiStreamLanes(lane) };
      streams.set(ctx, state);
    }
    return state;
  }

  function checkChunk(_accumulated: string, delta: string, ctx: GuardContext): OutputDecision {
    const state = blockState(ctx);
    const hold = state.lanes.push(delta);
    const types = state.found.types;
    if (types === undefined) return hold > 0 ? { action: 'allow', holdChars: hold } : allow();
    record(types, 'output', ctx);
    return { action: 'block', reason: `sensitive data in the response: ${types.join(', ')}` };
  }

  /** Block mode: a quote beside a streamed answer, whole, before its item is delivered (STREAM_QUOTES). */
  const quotes: StreamQuotesHook = {
    quote(ctx, text) {
      const types = detectSensitive(text, redactOptions);
      if (types.length === 0) return allow();
      record(types, 'output', ctx);
      return { action: 'block', reason: `sensitive data in the response: ${types.join(', ')}` };
    },
  };

  /** Both stream modes: the next delta's lanes (chat with n > 1), announced before its chunk check. */
  const lanes: StreamLanesHook = {
    lanes: (ctx, split) => (mode === 'block' ? blockState(ctx).lanes : redaction(ctx)).announce(split),
  };

  /**
   * checkResponse on a complete answer's texts (output-texts.ts), each under its own cap, as a
   * stream reads each choice: one verdict and one pii_detected for all of them; redact's text is
   * theirs redacted, joined as they were (the call writes each back with `rewriter.whole`).
   */
  function checkTexts(
    texts: readonly string[],
    ctx: GuardContext,
    tools: number,
    reasoning: number,
    cuts: readonly number[] | undefined,
    chunked: boolean,
    audio: readonly number[],
  ): OutputDecision {
    const found = new Set<string>();
    const out: string[] = [];
    // The last `reasoning` texts are the model's reasoning, the `tools` before them tool calls'
    // arguments: where a finding was is said in the event.
    const firstReasoning = texts.length - reasoning;
    const firstTool = firstReasoning - tools;
    let inText = false;
    let inTools = false;
    let inReasoning = false;
    // Audio transcripts (indices, ascending) whose rewrite removes their audio: `audio_removed`.
    let nextAudio = 0;
    let audioRemoved = false;
    for (const [i, t] of texts.entries()) {
      // The answer's parts, when it joins several, are read apart too (pii-parts.ts).
      const parts = i === 0 ? cuts : undefined;
      // JSON numbers need a card word to be cards (pii-json-numbers.ts), as rewriter.whole reads
      // them; not in a streamed answer, which the chunk checks read (and rewrote) as text.
      // (Reasoning is prose, but rewriter.whole rewrites it too: read as it reads it.)
      const json = !(i === 0 && chunked);
      let types: readonly string[];
      if (mode === 'redact') {
        const r =
          parts !== undefined
            ? readAnswerParts(t, parts, redactOptions, true)
            : json
              ? redactJsonAware(t, redactOptions)
              : redact(t, redactOptions);
        types = r.types;
        out.push(r.text);
        while (nextAudio < audio.length && audio[nextAudio]! < i) nextAudio++;
        if (audio[nextAudio] === i && r.text !== t) audioRemoved = true;
      } else
        types =
          parts !== undefined
            ? readAnswerParts(t, parts, redactOptions, false).types
            : json
              ? detectJsonAware(t, redactOptions)
              : detectSensitive(t, redactOptions);
      if (types.length === 0) continue;
      for (const type of types) found.add(type);
      if (i >= firstReasoning) inReasoning = true;
      else if (i >= firstTool) inTools = true;
      else inText = true;
    }
    if (found.size === 0) return allow();
    const types = [...found];
    record(types, 'output', ctx, false, foundIn(inText, inTools, inReasoning), audioRemoved);
    if (mode === 'redact') return { action: 'modify', text: out.join('\n'), reason: 'redacted' };
    return mode === 'block'
      ? { action: 'block', reason: `sensitive data in the response: ${types.join(', ')}` }
      : allow();
  }

  const guard: PiiGuard = {
    name: 'piiGuard',
    layer,

    check(input: GuardInput, ctx: GuardContext): GuardDecision {
      if (!directions.has('input')) return allow();
      if (mode !== 'redact') return detectInput(input, ctx);
      const found = new Set<string>();
      let changed = false;
      let fromTool = true;
      const fresh = newInputStart(input.messages);
      const hosted = hostedOutputStart(input.messages, fresh);
      const next: GuardMessage[] = input.messages.map((m, i) => {
        if (!scanned(m)) return m;
        const r = redactMessage(m, redactOptions);
        if (r.types.length === 0) return m;
        if (i >= fresh || (i >= hosted && isHostedOutput(m.role))) {
          for (const t of r.types) found.add(t);
          if (!isToolRole(m.role)) fromTool = false;
        }
        changed = true;
        return { role: m.role, content: r.text };
      });
      if (found.size > 0) record([...found], 'input', ctx, fromTool);
      return changed ? { action: 'modify', messages: next, reason: 'redacted' } : allow();
    },

    checkResponse(output: GuardOutput, ctx: GuardContext): OutputDecision {
      if (!directions.has('output') || output.text.length === 0) return allow();
      // Several texts (choices, quotes) past the cap joined: each is read under a cap of its own.
      // So are an answer's tool-call arguments, to say where a finding was.
      // And an answer joining several parts (Responses parts, Anthropic blocks), read apart too:
      // data whole in one part that the next part's first characters hide in the join.
      const tools = toolArgumentsOf(output);
      const reasoning = reasoningOf(output);
      const cuts = answerCutsOf(output);
      // redact: an audio answer's transcript apart too, to say when its rewrite removes the audio.
      const audio = mode === 'redact' ? audioTranscriptsOf(output) : NO_AUDIO;
      const texts =
        output.text.length > maxChars || tools > 0 || reasoning > 0 || cuts !== undefined || audio.length > 0
          ? outputTextsOf(output)
          : undefined;
      // An answer that is only tool arguments (no text: a chat call's content null) too, so
      // its event says found_in tool_arguments (before, none).
      // A stream's answer was read chunk by chunk (block and redact modes keep a state for it).
      const chunked = streams.get(ctx) !== undefined || redactions.get(ctx) !== undefined;
      if (
        texts !== undefined &&
        (texts.length > 1 || cuts !== undefined || tools > 0 || reasoning > 0 || audio.length > 0)
      )
        return checkTexts(texts, ctx, tools, reasoning, cuts, chunked, audio);
      // A complete JSON answer's numbers are read as tool arguments' are (pii-json-numbers.ts),
      // as the rewrite (rewriter.whole) reads them; a streamed answer as its chunks were.
      if (mode === 'redact') {
        const r = chunked ? redact(output.text, redactOptions) : redactJsonAware(output.text, redactOptions);
        if (r.types.length === 0) return allow();
        record(r.types, 'output', ctx);
        return { action: 'modify', text: r.text, reason: 'redacted' };
      }
      const types = chunked
        ? detectSensitive(output.text, redactOptions)
        : detectJsonAware(output.text, redactOptions);
      if (types.length === 0) return allow();
      record(types, 'output', ctx);
      return mode === 'block'
        ? { action: 'block', reason: `sensitive data in the response: ${types.join(', ')}` }
        : allow();
    },
  };
  // detect mode has no chunk check at all, so the runner does not call it for every chunk (and a
  // stream whose output guards have none is not observed chunk by chunk). Redact mode's end
  // check (checkResponse on the whole text) records pii_detected; its modify is not used on a stream.
  if (mode === 'block' && directions.has('output')) {
    guard.checkChunk = checkChunk;
    (guard as { [STREAM_QUOTES]?: StreamQuotesHook })[STREAM_QUOTES] = quotes;
  }
  if (mode !== 'detect' && directions.has('output'))
    (guard as { [STREAM_LANES]?: StreamLanesHook })[STREAM_LANES] = lanes;
  if (mode === 'redact' && directions.has('output')) {
    guard.checkChunk = redactChunk;
    (guard as { [STREAM_REWRITER]?: StreamRewriter })[STREAM_REWRITER] = rewriter;
  }
  return guard;
}

const NO_AUDIO: readonly number[] = [];

/**
 * A fresh allow per call, not one shared frozen object: a host's wrapper may set fields on the
 * decision it gets (turn it into a block, say); on a frozen object that throws in strict mode
 * and the runner would read the throw as the guard failing, not as the block meant.
 */
function allow(): { action: 'allow' } {
  return { action: 'allow' };
}

/**
 * An answer's `found_in` (docs/formats.md): the places that held a finding, in a fixed order;
 * undefined when only the text did (the event then carries none, as before tool arguments were read).
 */
function foundIn(text: boolean, tools: boolean, reasoning: boolean): string[] | undefined {
  if (!tools && !reasoning) return undefined;
  const out: string[] = [];
  if (text) out.push('text');
  if (tools) out.push('tool_arguments');
  if (reasoning) out.push('reasoning');
  return out;
}

/** How an event's description names a `found_in` place. */
function placeName(place: string): string {
  return place === 'tool_arguments'
    ? 'tool-call arguments'
    : place === 'reasoning'
      ? 'the reasoning'
      : 'the text';
}

/** System messages are the operator's, not the user's: they are not scanned. */
function scanned(m: GuardMessage): boolean {
  return m.role !== 'system' && m.role !== 'developer' && m.content.length > 0;
}
