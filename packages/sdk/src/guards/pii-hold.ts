/**
 * How much of a stream's end piiGuard (block mode) keeps from the reader after a check that
 * found nothing: the text that may be the start of a finding still being streamed. A check
 * that released everything up to the end let 'jane.doe@example' of 'jane.doe@example.com'
 * (no TLD yet, so no address) reach the reader before the chunk completing it cut the stream.
 *
 * Held: the last run of characters a finding can hold (letters, digits and `._%+-@():~/=`:
 * every core detector's finding is made of them, apart from spaces), and, back across single
 * spaces, the runs before it while both sides are groups of a number written in groups (digits,
 * capitals, `+().-`: cards, phones, IBANs, SSNs); a text ending in a space after such a group
 * holds the group and the space (the next group may follow). Over-holding only delays text;
 * missing a start lets it out. At most `cap` characters, read from the end only: linear in the
 * cap, whatever the text. Not held: a PEM header's words before `PRIVATE KEY-----` (no key
 * material; the body after a complete header is blocked on sight).
 */
export function findingStartHold(text: string, cap: number): number {
  const end = text.length;
  const stop = Math.max(0, end - cap);
  let start = end;
  while (start > stop && isFindingChar(text.charCodeAt(start - 1))) start--;
  // [start, end) is the last run; [start, groupEnd) the run just after the space looked at.
  let groupEnd = end;
  for (;;) {
    if (start <= stop || text.charCodeAt(start - 1) !== SPACE) break;
    // The run after the space: a group, or nothing at all when the text ends with the space.
    if (!isGroup(text, start, groupEnd) && !(start === end)) break;
    let before = start - 1;
    while (before > stop && isFindingChar(text.charCodeAt(before - 1))) before--;
    if (before === start - 1 || !isGroup(text, before, start - 1)) break;
    groupEnd = start - 1;
    start = before;
  }
  return end - start;
}

const SPACE = 0x20;

/** A character some finding may contain (spaces aside): ASCII letters, digits and `._%+-@():~/=`. */
export function isFindingChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x25 || // %
    c === 0x2b || // +
    c === 0x2d || // -
    c === 0x40 || // @
    c === 0x28 || // (
    c === 0x29 || // )
    c === 0x3a || // :
    c === 0x7e || // ~
    c === 0x2f || // /
    c === 0x3d // =
  );
}

/** A non-empty run of [from, to) that may be one group of a number written in groups: digits, capitals, `+().-`. */
function isGroup(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      c === 0x2b ||
      c === 0x28 ||
      c === 0x29 ||
      c === 0x2e ||
      c === 0x2d;
    if (!ok) return false;
  }
  return true;
}
