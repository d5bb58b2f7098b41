import { num } from './adapter.ts';
import { isFinish } from './finish-reason.ts';
import {
  giveEntries,
  keepEntries,
  releaseEntries,
  type HeldEntries,
  type LogprobsBudget,
} from './held-logprobs.ts';
import { keepHeld, releaseHeld } from './held-text.ts';
import { takeChoiceLogprobs } from './logprobs.ts';
import { MAX_HELD_CHARS } from './stream-limit.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { UnwritableArguments, valueText } from './tool-arguments.ts';

/**
 * A chat answer's audio (gpt-4o-audio, `modalities: ['text', 'audio']`): `message.audio` is
 * `{id, data, expires_at, transcript}`, the audio in `data` (base64) and its words in
 * `transcript`; streamed, `delta.audio` carries `transcript` and `data` in pieces. The
 * transcript reaches the application as text (and the audio speaks it): an address or the
 * system prompt in it leaves as surely as in `content`. Before, no output guard read it: a
 * transcript with the canary and an address passed `defaultGuards({ canary, pii: 'block' })`.
 *
 * Read as a side text after the refusal (found in `text`: the answer's words, spoken), under
 * its own `maxChars` as each side text. detect reports a finding; block blocks the answer.
 * redact cannot rewrite the audio: its `data` would still speak the words the transcript's
 * rewrite took out, so a transcript that redact changes has its audio removed (`data` set to
 * '', the transcript rewritten), fail closed, never a rewritten transcript beside audio that
 * says otherwise. A transcript that is not a string (an array, an object: not the API's shape,
 * but an application showing it shows its text) is read as its JSON text (valueText, as the other
 * fields that are not strings), a rewrite that changes it written as a string; before, it was not
 * read, and an address in it passed every mode, plain and streamed.
 */

/** The message's (or delta's) audio object, when it is one. */
function audioOf(message: Record<string, unknown>): Record<string, unknown> | undefined {
  const a = message.audio;
  return typeof a === 'object' && a !== null && !Array.isArray(a)
    ? (a as Record<string, unknown>)
    : undefined;
}

/** A value's text as a transcript is read (valueText), when not empty. */
function transcriptText(value: unknown): string | undefined {
  const t = valueText(value);
  return t !== undefined && t.length > 0 ? t : undefined;
}

/** A complete message's audio transcript, when not empty (one that is not a string: its JSON text). */
export function audioTranscript(message: Record<string, unknown>): string | undefined {
  return transcriptText(audioOf(message)?.transcript);
}

/**
 * `next`, the transcript's rewrite, written back: changed, the transcript is the rewrite and the
 * audio's `data` is removed (''), as it speaks the words taken out (true). Unchanged: as sent.
 */
export function writeAudioTranscript(message: Record<string, unknown>, next: string | undefined): boolean {
  const audio = audioOf(message);
  if (audio === undefined || typeof next !== 'string' || next === transcriptText(audio.transcript))
    return false;
  audio.transcript = next;
  audio.data = '';
  return true;
}

/**
 * A streamed delta's transcript piece, when not empty (one that is not a string: its JSON text):
 * what the accumulator joins for the end check (openai-chat-stream.ts).
 */
export function transcriptPiece(d: Record<string, unknown> | undefined): string | undefined {
  return d === undefined ? undefined : transcriptText(audioOf(d)?.transcript);
}

/** Whether a streamed delta carries audio (any `delta.audio` object): block holds from it. */
export function carriesAudio(d: Record<string, unknown> | undefined): boolean {
  return d !== undefined && audioOf(d) !== undefined;
}

/**
 * A redact stream's choice's audio kept back: its transcript and its data's pieces, and the
 * transcript pieces' logprobs entries (undefined once some could not be kept: none delivered).
 */
interface HeldAudio {
  transcript: string;
  data: string[];
  chars: number;
  logprobs: HeldEntries;
}

/**
 * A stream's hold: each choice's audio not delivered yet, and their data's characters together
 * (the cap is the stream's: counted per choice, a server spreading audio over 1,024 choices had
 * 1,024 times the cap held), and the transcripts' logprobs kept back, all choices (held-logprobs.ts).
 * The transcripts and data also count against the stream's whole hold (held-text.ts).
 */
interface StreamHold extends LogprobsBudget {
  choices: Map<number, HeldAudio>;
  chars: number;
}

/** Per stream (its StreamItemRewrite): its hold. */
const held = new WeakMap<StreamItemRewrite, StreamHold>();
/** Choices whose audio is kept back; past this (a hostile stream), a new choice's audio is dropped. */
const MAX_AUDIO_CHOICES = 1024;
/**
 * The audio data (base64 characters) kept back per stream: 32 Mi, some 16 minutes of the API's
 * 24 kHz pcm16. Past it the stream is cut (fail closed), never the audio delivered unchecked.
 * The figure of what any stream may hold back (stream-limit.ts), so redact's hold and block's
 * agree on how much is too much.
 */
export const MAX_HELD_AUDIO_CHARS = MAX_HELD_CHARS;
const AUDIO_FILTER = 'audio';
const TOO_LONG = 'streamed audio longer than the redact hold (MAX_HELD_AUDIO_CHARS)';

/**
 * A redact stream's `delta.audio`: its transcript pieces and data pieces are kept back ('' delivered)
 * until the choice's finish chunk, which carries the whole transcript rewritten (`rw.whole`) and,
 * when the rewrite left it as it was, the whole audio (the pieces decoded and encoded again as one
 * base64 text); when the rewrite changed it, no audio (data ''): the audio speaks the words taken
 * out. The audio's data cannot be checked, and its pieces come before the transcript is whole, so
 * none of it goes out before the end. Fail closed: a stream that ends without the choice's finish
 * delivers none of its audio, nor does a choice past MAX_AUDIO_CHOICES; past
 * MAX_HELD_AUDIO_CHARS of data (or MAX_HELD_CHARS of all the text and data the stream keeps
 * back: held-text.ts) the stream is cut. The common chunk (no audio, no kept audio) pays two
 * property reads and no lookup.
 */
export function rewriteAudioPiece(
  choice: Record<string, unknown>,
  d: Record<string, unknown> | undefined,
  rw: StreamItemRewrite,
): void {
  const audio = d === undefined ? undefined : audioOf(d);
  const last = isFinish(choice);
  if (audio === undefined && !last) return;
  let stream = held.get(rw);
  if (audio === undefined && stream === undefined) return;
  if (stream === undefined)
    held.set(rw, (stream = { choices: new Map(), chars: 0, logprobs: 0, logprobChars: 0 }));
  const byChoice = stream.choices;
  const index = num(choice.index) ?? 0;
  let h = byChoice.get(index);
  if (audio !== undefined) {
    if (h === undefined && byChoice.size < MAX_AUDIO_CHOICES)
      byChoice.set(index, (h = { transcript: '', data: [], chars: 0, logprobs: [] }));
    const t = transcriptText(audio.transcript);
    if (t !== undefined) {
      if (h !== undefined) {
        keepHeld(rw, t.length);
        h.transcript += t;
      }
      audio.transcript = '';
      // The chunk's tokens, from a server that gives logprobs with audio, repeat the piece kept
      // back (logprobs.ts): they would deliver it before the transcript is checked. Kept back
      // with it, they go out with a transcript the rewrite left as it was.
      const lp = takeChoiceLogprobs(choice, 'content');
      if (h !== undefined) h.logprobs = keepEntries(h.logprobs, stream, lp);
    }
    const data = audio.data;
    if (typeof data === 'string' && data.length > 0) {
      if (h !== undefined) {
        h.chars += data.length;
        stream.chars += data.length;
        if (stream.chars > MAX_HELD_AUDIO_CHARS) throw new UnwritableArguments(AUDIO_FILTER, TOO_LONG);
        // With the text kept back: all of the stream's hold under one cap, as block mode's.
        keepHeld(rw, data.length);
        h.data.push(data);
      }
      audio.data = '';
    }
  }
  if (!last || h === undefined) return;
  byChoice.delete(index);
  stream.chars -= h.chars;
  releaseHeld(rw, h.chars + h.transcript.length);
  releaseEntries(h.logprobs, stream);
  const out = rw.whole(h.transcript);
  const clean = out === h.transcript;
  const data = clean ? joinBase64(h.data) : '';
  const into = audio ?? ((d ?? (choice.delta = {})) as Record<string, unknown>);
  if (into === audio) {
    audio.transcript = out;
    audio.data = data;
  } else into.audio = { transcript: out, data };
  if (clean && h.logprobs !== undefined) giveEntries(choice, 'content', h.logprobs);
}

/** Base64 pieces as one base64 text (each piece decoded: a piece may end in padding). */
function joinBase64(pieces: readonly string[]): string {
  if (pieces.length === 1) return pieces[0]!;
  let bytes = '';
  try {
    for (const p of pieces) bytes += atob(p);
  } catch {
    // Not base64 (a hostile server): no audio delivered rather than pieces joined into noise.
    return '';
  }
  return btoa(bytes);
}
