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
 * a Map built per scan (the PII guard scans every prompt and response).
 */
interface TriggerPlan {
  triggers: Array<Detector['trigger']>;
  slot: Int32Array;
}
const plans = new WeakMap<readonly Detector[], TriggerPlan>();

function planOf(detectors: readonly Detector[]): TriggerPlan {
  let plan = plans.get(detectors);
  if (plan === undefined) {
    const triggers: Array<Detector['trigger']> = [];
    const slot = new Int32Array(detectors.length);
    detectors.forEach((d, i) => {
      let k = triggers.indexOf(d.trigger);
      if (k < 0) k = triggers.push(d.trigger) - 1;
      slot[i] = k;
    });
    plan = { triggers, slot };
    plans.set(detectors, plan);
  }
  return plan;
}

/**
 * Non-overlapping findings sorted by start. With `piiMaxChars` below the text's length, the
 * personal-data detectors read only the text's first `piiMaxChars` units (a prefix, so offsets
 * are unchanged); credentials are looked for in the whole text.
 */
export function scan(text: string, detectors: readonly Detector[], piiMaxChars = Infinity): Finding[] {
  let found: Finding[] = [];
  const { triggers, slot } = planOf(detectors);
  const head = piiMaxChars < text.length ? text.slice(0, Math.max(0, Math.floor(piiMaxChars))) : text;
  // 0: not run yet, 1: fires, 2: does not.
  const fired = new Uint8Array(triggers.length);
  for (let d = 0; d < detectors.length; d++) {
    const detector = detectors[d]!;
    const k = slot[d]!;
    if (fired[k] === 0) fired[k] = triggers[k]!(text) ? 1 : 2;
    if (fired[k] !== 1) continue;
    const subject = head === text || isSecretType(detector.type) ? text : head;
    const mine: Finding[] = [];
    const re = detector.pattern;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(subject)) !== null) {
      const match = m[0];
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
      if (!overlaps(found, start, end)) mine.push({ start, end, type: detector.type });
    }
    re.lastIndex = 0;
    if (mine.length > 0) found = found.length === 0 ? mine : merge(found, mine);
  }
  return found;
}
