import { isSecretType, type Detector, type RedactionType } from './types.ts';

/**
 * The scan shared by redact and detectSensitive: detectors run in priority order over the
 * original text, and a candidate that overlaps a finding of an earlier detector is dropped
 * (a JWT's payload is not also an AWS key; an IBAN's digits are not also a card). Findings
 * are kept as offsets, so detection builds no strings.
 */

export interface Finding {
  start: number;
  end: number;
  type: RedactionType;
}

/** Index of the first finding in `sorted` (by start) that ends after `start`. */
function firstEndingAfter(sorted: readonly Finding[], start: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function overlaps(sorted: readonly Finding[], start: number, end: number): boolean {
  const i = firstEndingAfter(sorted, start);
  return i < sorted.length && sorted[i]!.start < end;
}

/** Merges two lists sorted by start whose findings do not overlap. */
function merge(a: readonly Finding[], b: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]!.start <= b[j]!.start ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/**
 * Per detector list, its distinct triggers and each detector's trigger slot: every distinct
 * trigger runs at most once per text (detectors share them), looked up by index rather than in
 * a Map built per scan (the PII guard scans every prompt and response). And the detectors'
 * `needs`: one bit per distinct set of characters, the bits each ASCII character carries, each
 * detector's bit (0: it has none, its trigger always runs).
 */
interface TriggerPlan {
  triggers: Array<Detector['trigger']>;
  slot: Int32Array;
  need: Int32Array;
  byChar: Int32Array;
  /** Every bit in use: the pass over a text stops once it has seen them all. */
  all: number;
}
const plans = new WeakMap<readonly Detector[], TriggerPlan>();
/** Distinct `needs` per plan that get a bit; any more are not skipped (their triggers run). */
const MAX_NEEDS = 31;

function planOf(detectors: readonly Detector[]): TriggerPlan {
  let plan = plans.get(detectors);
  if (plan === undefined) {
    const triggers: Array<Detector['trigger']> = [];
    const slot = new Int32Array(detectors.length);
    const need = new Int32Array(detectors.length);
    const byChar = new Int32Array(128);
    const bits = new Map<string, number>();
    let all = 0;
    detectors.forEach((d, i) => {
      let k = triggers.indexOf(d.trigger);
      if (k < 0) k = triggers.push(d.trigger) - 1;
      slot[i] = k;
      const needs = d.needs;
      if (needs === undefined || needs.length === 0 || !/^[\x00-\x7f]+$/.test(needs)) return;
      let bit = bits.get(needs);
      if (bit === undefined) {
        if (bits.size >= MAX_NEEDS) return;
        bit = 1 << bits.size;
        bits.set(needs, bit);
        for (let c = 0; c < needs.length; c++) byChar[needs.charCodeAt(c)]! |= bit;
        all |= bit;
      }
      need[i] = bit;
    });
    plan = { triggers, slot, need, byChar, all };
    plans.set(detectors, plan);
  }
  return plan;
}

/**
 * Texts longer than this are not read for the needs (every trigger runs, as before). Warm, the
 * loop costs about as much as the string searches it saves at ~300 characters and more above
 * (1,000 characters of prose: 2.58 -> 2.93 us, 4,000: 9.4 -> 11.4 us); inside an instrumented
 * call, where the triggers run cold, it saves more than that on the prompts and answers most
 * calls carry (62-68 characters: 0.42-0.43 -> 0.24-0.27 us warm).
 */
const NEEDS_MAX_CHARS = 1024;

/** The bits of the needs whose characters occur in `text`: one pass, stopped when all are seen. */
function presentNeeds(text: string, plan: TriggerPlan): number {
  const { byChar, all } = plan;
  if (all === 0 || text.length > NEEDS_MAX_CHARS) return all;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      seen |= byChar[c]!;
      if (seen === all) break;
    }
  }
  return seen;
}

/**
 * Characters past the PII cap the personal-data detectors read (scan): a match that starts
 * before the cap and ends within them counts, whole; one still running at their end is unproven.
 */
export const PAST_CUT = 256;

/**
 * Non-overlapping findings sorted by start. With `piiMaxChars` below the text's length, the
 * personal-data detectors keep only matches that start in the text's first `piiMaxChars` units
 * (offsets unchanged); credentials are looked for in the whole text. They read PAST_CUT units
 * past the cap: a finding may end past the cap, never start past it; one still running at the
 * end of that read (the text going on) is not counted.
 */
export function scan(text: string, detectors: readonly Detector[], piiMaxChars = Infinity): Finding[] {
  let found: Finding[] = [];
  const plan = planOf(detectors);
  const { triggers, slot, need } = plan;
  // The personal-data detectors read PAST_CUT units past the cap and keep what starts before
  // it, so data the cap cuts is found whole (a card cut after 14 digits is no match of the
  // first piiMaxChars units alone: it passed redact and block, while an address cut there was
  // read on past the cap) and a longer token cut there is not taken for its head.
  const capped = piiMaxChars < text.length;
  const cap = capped ? Math.max(0, Math.floor(piiMaxChars)) : text.length;
  const head = capped && cap + PAST_CUT < text.length ? text.slice(0, cap + PAST_CUT) : text;
  // A trigger (a string search or a regex run) costs far more inside an instrumented call than
  // its warm figure (cold caches: a 70-character text's 14 triggers ~4 us there, ~0.4 warm);
  // one character loop over the text rules most of them out for ordinary text.
  const present = presentNeeds(text, plan);
  // Which triggers ran and which fired, a bit each: no allocation per scan (a Uint8Array was
  // ~270 bytes, most of a clean text's garbage). A plan of more distinct triggers than bits
  // keeps an array: 0 not run yet, 1 fires, 2 does not.
  let ran = 0;
  let hit = 0;
  const many = triggers.length > 31 ? new Uint8Array(triggers.length) : undefined;
  for (let d = 0; d < detectors.length; d++) {
    const detector = detectors[d]!;
    const bit = need[d]!;
    // The detector's characters are absent: its trigger cannot fire (the trigger may still run
    // for another detector that shares it and has no such characters).
    if (bit !== 0 && (present & bit) === 0) continue;
    const k = slot[d]!;
    if (many === undefined) {
      const b = 1 << k;
      if ((ran & b) === 0) {
        ran |= b;
        if (triggers[k]!(text)) hit |= b;
      }
      if ((hit & b) === 0) continue;
    } else {
      if (many[k] === 0) many[k] = triggers[k]!(text) ? 1 : 2;
      if (many[k] !== 1) continue;
    }
    const secret = isSecretType(detector.type);
    const subject = secret ? text : head;
    const limit = secret ? text.length : cap;
    const mine: Finding[] = [];
    const re = detector.pattern;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(subject)) !== null) {
      const match = m[0];
      // Matches come in order of their starts: none past the cap is read.
      if (m.index >= limit) break;
      if (match.length === 0) {
        re.lastIndex++;
        continue;
      }
      let length = match.length;
      if (detector.accept) {
        const verdict = detector.accept(match, subject, m.index);
        if (verdict === false || verdict === 0) continue;
        if (typeof verdict === 'number' && verdict !== length) {
          length = verdict;
          re.lastIndex = m.index + length;
        }
      }
      const start = m.index;
      const end = start + length;
      // Still running at the end of what was read past the cap, the text going on: unproven
      // (it may be part of a longer token), not counted.
      if (end === subject.length && subject !== text) continue;
      if (!overlaps(found, start, end)) mine.push({ start, end, type: detector.type });
    }
    re.lastIndex = 0;
    if (mine.length > 0) found = found.length === 0 ? mine : merge(found, mine);
  }
  return found;
}
