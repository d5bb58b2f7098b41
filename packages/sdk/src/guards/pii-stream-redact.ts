import {
  findSensitive,
  redact,
  redactionPlaceholder,
  type RedactOptions,
  type RedactionType,
} from '@llmsec/core';
import { findingStartHold, isFindingChar } from './pii-hold.ts';

/**
 * piiGuard redact mode on one streamed response: the text is released to the reader in pieces
 * that are final, each with its findings replaced by core's typed placeholders, so that the
 * deltas the reader gets join to `redact(whole text)`.
 *
 * A check (every `step` characters, as block mode's) reads the text not released yet with the
 * `window` characters released before it (a detector's look-behind: `Bearer ` before a token,
 * a letter before a digit), and releases all of it but what may still change (`redactHold`
 * below): the end that may still become a finding (block mode's hold, pii-hold.ts, extended
 * back over whole runs and number groups), any finding that may still grow or change (it
 * reaches within LOOKAHEAD characters of the end: an address gaining `.uk`, a key still
 * streaming, a PEM body before its END line), and before what is held, what may join a finding
 * once its neighbour is a placeholder. A finding is never cut across two releases, so its
 * placeholder is written once, in the item where it starts; the items after it that carried the
 * rest of it deliver what follows it. The stream's end releases the rest (`end`).
 *
 * Bounds: what is held is at most `window` characters (read from the end only), or a finding
 * still growing (then up to its detector's own bound: 400 characters for an API key, 16 KiB for
 * a PEM body, ~40 KiB for a JWT), or a finding taken that a hold reached back into with the run
 * glued before it (at most `window` more); while more than 4 x `window` is held, the checks wait
 * for a quarter of it to arrive again, so each check reads at most ~5x the text that arrived
 * since the last: linear in the stream whatever its chunks (and a hold may pass its bound by that
 * quarter until the next check: 19,213 characters measured on PEM headers without an END line
 * in 1-character deltas, against 16,480). Released text waits in `segs` only until the
 * observer delivers its items (right after the check).
 *
 * Exactness: each piece is scanned with its left context; redact's later passes are run on the
 * piece's rewrite between the rewrite before it and the held text after it. The tests hold the
 * result equal to `redact` of the whole text: every cut offset of 9 finding types through the
 * real clients, and 9,000 random answers (test/guard-stream-pii-redact.test.ts,
 * test/pii-stream-redact.test.ts). A token glued to a PEM header ('Bearer 9f8e...a0-----BEGIN'),
 * which core finds only in a later pass once the key is a placeholder, was released alone when
 * a hold moved the cut to the key's start (search seed 31362): the cut takes the run glued
 * before a finding with it now. Known to differ, in 1 of 90,000 answers of that search (seed
 * 75255): 'sk-an' of an Anthropic key glued to a PEM key is let out before the placeholder. A
 * later-pass finding that would run on into the held text is not taken either. The piiMaxChars cap counts from the stream's start, as
 * a non-streamed response's from its text's (block mode's windows ignore it).
 */
export class PiiStreamRedaction {
  /** Original text not released yet; `base`: its offset in the stream. */
  private pending = '';
  private base = 0;
  /** Characters pushed since the last check. */
  private fresh = 0;
  /** The end (`window` characters) of the released original text, and of its rewrite. */
  private before = '';
  private outBefore = '';
  /** Length of the rewrite released so far (the piiMaxChars cap of redact's later passes counts in it). */
  private outBase = 0;
  /** Released text not delivered yet: `len` original characters delivered as `text` (undefined: as they are). */
  private readonly segs: Array<Segment | undefined> = [];
  private head = 0;
  /** Characters of segs[head] delivered. */
  private pos = 0;
  /**
   * Where the last `next` changed its text: flat [start, end, replacement length] per changed
   * segment's part in it (a finding's placeholder where it starts, '' where it goes on), made
   * only when one is met. Lets a chunk's annotations between two changes keep their place
   * (stream-offsets.ts): the chunk's common prefix and suffix alone covered the text between.
   */
  changes: number[] | undefined;

  private readonly options: RedactOptions;
  private readonly maxChars: number;
  private readonly window: number;
  private readonly step: number;

  /** `maxChars`: piiGuard's cap, counted from the stream's start; `window`, `step`: as block mode's chunk check. */
  constructor(options: RedactOptions, maxChars: number, window: number, step: number) {
    this.options = options;
    this.maxChars = maxChars;
    this.window = window;
    this.step = step;
  }

  /** A delta arrived: returns how many characters at the end of the stream must be held back. */
  push(delta: string): number {
    this.pending += delta;
    this.fresh += delta.length;
    const due = this.pending.length > 4 * this.window ? this.pending.length >> 2 : this.step;
    if (this.fresh >= due) {
      this.fresh = 0;
      this.release(false);
    }
    return this.pending.length;
  }

  /** Characters pushed and not released yet (what `push` last answered, unless released since). */
  get held(): number {
    return this.pending.length;
  }

  /** The stream ended: everything held is final. */
  end(): void {
    this.release(true);
  }

  /**
   * The next `text.length` characters of the stream, as the reader gets them. Text not released
   * (a chunk check that failed, so its hold was not applied) is released now, as at the end.
   */
  next(text: string): string {
    let out = '';
    let i = 0;
    this.changes = undefined;
    while (i < text.length) {
      let seg = this.segs[this.head];
      if (seg === undefined) {
        this.release(true);
        seg = this.segs[this.head];
        // Not text of this stream: never passed on unredacted.
        if (seg === undefined) {
          const rest = redact(text.slice(i), this.capped(this.maxChars)).text;
          (this.changes ??= []).push(i, text.length, rest.length);
          return out + rest;
        }
      }
      const take = Math.min(seg.len - this.pos, text.length - i);
      if (seg.text === undefined) out += take === text.length ? text : text.slice(i, i + take);
      else {
        const piece = this.pos === 0 ? seg.text : '';
        out += piece;
        (this.changes ??= []).push(i, i + take, piece.length);
      }
      this.pos += take;
      i += take;
      if (this.pos === seg.len) {
        this.segs[this.head++] = undefined;
        this.pos = 0;
        if (this.head === this.segs.length) {
          this.segs.length = 0;
          this.head = 0;
        }
      }
    }
    return out;
  }

  /** Releases what is final of `pending` (all of it when `final`), as segments. */
  private release(final: boolean): void {
    const text = this.pending;
    let cut = final ? text.length : text.length - redactHold(text, text.length, this.window);
    if (cut <= 0) return;
    const ctx = this.before;
    const findings = findSensitive(ctx + text, this.capped(this.maxChars - (this.base - ctx.length)));
    const found: Array<{ start: number; end: number; type: RedactionType }> = [];
    let heldFinding = false;
    for (const f of findings) {
      if (f.end <= ctx.length) continue; // in text released before: rewritten then
      // A finding begun in released text (which a hold should have kept): its rest is still replaced.
      const start = Math.max(0, f.start - ctx.length);
      const end = f.end - ctx.length;
      if (start >= cut) break;
      if (end > cut || (!final && (end + LOOKAHEAD > text.length || pemMayGrow(f.type, text, start, end)))) {
        // May still grow or change: held whole, with the run it starts in (never a cut inside a
        // run: 'sk-ant-...1234_' before '-----BEGIN', a token the key's header overlapped).
        cut = start - redactHold(text, start, this.window);
        heldFinding = true;
        break;
      }
      found.push({ start, end, type: f.type });
    }
    // What is held may join what is before it once a finding there is a placeholder (redact's
    // later passes: '+44 20 7946 0958 ' before an SSN the phone's first reading overlapped;
    // '06 12 34 56 78 ' before '2001:db8::1', which the phone's look-ahead refused until it was
    // '[REDACTED:ipv6]'): the end before the cut is held as the stream's end is, and a finding
    // that hold ends inside with it, until nothing more is held (a few rounds: each moves back).
    // Within the window: the hold's bound stays `window`, from the end of the text, or from
    // the start of a finding held (still growing: what is before it may join it all the same).
    const limit = heldFinding ? cut : text.length;
    for (let round = 0; round < 8 && cut > 0 && cut < text.length; round++) {
      const budget = this.window - (limit - cut);
      if (budget <= 0) break;
      let next = cut - redactHold(text, cut, budget);
      for (const f of found) if (f.start < next && f.end > next) next = f.start;
      if (next === cut) break;
      cut = next;
    }
    // Never a cut inside a finding taken (a hold back from a held finding may end inside one:
    // '...END RSA PRIVATE KEY----- ' read as number groups before the next key's header).
    // At a finding's start, the cut takes the run glued before it too: redact's later
    // passes read that run with the finding's placeholder ('Bearer 9f8e...1a0' before
    // '-----BEGIN': a token only once the key is a placeholder; released alone, it was let out).
    for (let moved = true; moved; ) {
      moved = false;
      for (const f of found) {
        if (f.start < cut && f.end > cut) {
          cut = f.start;
          moved = true;
        }
      }
      // At most `window` more: the hold is then a taken finding's text and the window before it.
      const budget = this.window;
      if (cut > 0 && isFindingChar(text.charCodeAt(cut - 1)) && found.some((f) => f.start === cut)) {
        // The run, and what joins it as the rounds above take it (groups across single spaces).
        const at = cut;
        cut -= redactHold(text, cut, budget);
        moved = cut !== at;
      }
    }
    const edits: Segment[] = [];
    let at = 0;
    let out = '';
    for (const f of found) {
      if (f.end > cut) break;
      if (f.start > at) edits.push({ len: f.start - at, text: undefined });
      const placeholder = redactionPlaceholder(f.type);
      edits.push({ len: f.end - f.start, text: placeholder });
      out += text.slice(at, f.start) + placeholder;
      at = f.end;
    }
    if (cut <= 0) return;
    const piece = cut === text.length ? text : text.slice(0, cut);
    if (at < cut) edits.push({ len: cut - at, text: undefined });
    let rewrite = edits.length === 1 && edits[0]!.text === undefined ? piece : out + piece.slice(at);
    // Later passes also when the text before was rewritten (a placeholder there gives a token
    // after it the word boundary it lacked: '6789Bearer x' after an SSN's placeholder).
    if (rewrite !== piece || this.outBefore !== this.before) {
      // redact's later passes: a placeholder may make a neighbour a finding. Rare; then the piece goes out whole.
      const later = this.laterPasses(rewrite, text.slice(cut, cut + LOOKAHEAD));
      if (later !== rewrite) {
        rewrite = later;
        edits.length = 0;
        edits.push({ len: cut, text: later });
      }
    }
    for (const e of edits) this.pushSegment(e);
    this.before = tail(ctx, piece, this.window);
    this.outBefore = tail(this.outBefore, rewrite, this.window);
    this.outBase += rewrite.length;
    this.pending = cut === text.length ? '' : text.slice(cut);
    this.base += cut;
  }

  /**
   * redact's passes after the first on a released piece's rewrite, read between the rewrite
   * before it and the held text after it (a look-ahead: 'jane.doe@example.com' before '06' is
   * no address). A finding running on into the held text is not taken (not seen: rare).
   */
  private laterPasses(rewrite: string, after: string): string {
    let current = rewrite;
    const ctx = this.outBefore;
    for (let pass = 1; pass < MAX_PASSES; pass++) {
      const findings = findSensitive(
        ctx + current + after,
        this.capped(this.maxChars - (this.outBase - ctx.length)),
      );
      let out = '';
      let at = 0;
      for (const f of findings) {
        if (f.end <= ctx.length) continue;
        if (f.end > ctx.length + current.length) break;
        const start = Math.max(0, f.start - ctx.length);
        out += current.slice(at, start) + redactionPlaceholder(f.type);
        at = f.end - ctx.length;
      }
      if (at === 0) break;
      current = out + current.slice(at);
    }
    return current;
  }

  private pushSegment(s: Segment): void {
    const last = this.segs.length > this.head ? this.segs[this.segs.length - 1] : undefined;
    if (last !== undefined && last.text === undefined && s.text === undefined) last.len += s.len;
    else this.segs.push(s);
  }

  private capped(piiMaxChars: number): RedactOptions {
    return { ...this.options, piiMaxChars: Math.max(0, piiMaxChars) };
  }
}

interface Segment {
  len: number;
  text: string | undefined;
}

/**
 * Characters a detector may read past a finding's end (look-aheads such as `(?![.-]\d)` or an
 * address's TLD): a finding ending closer than this to the end of the text seen may still change.
 */
const LOOKAHEAD = 8;

/**
 * A PEM private key without its END line yet: core reads a BEGIN header through the first END
 * line within 16 KiB (secrets.ts PEM_MAX_BODY), whatever lies between, so until 16 KiB have
 * followed the header an END line may still arrive and make everything up to it one finding
 * (a truncated key, then text, then another key's END: redact's whole text is one placeholder).
 */
function pemMayGrow(type: string, text: string, start: number, end: number): boolean {
  if (type !== 'private_key') return false;
  const endLine = text.lastIndexOf('-----END ', end);
  return (endLine < start || endLine >= end) && text.length - start <= PEM_MAX_BODY + PEM_HEADER_MAX;
}

/** secrets.ts: the body an END line is looked for in, and a BEGIN header's longest form. */
const PEM_MAX_BODY = 16384;
const PEM_HEADER_MAX = 96;

/** core's redact repeats its scan at most this many times (redact.ts MAX_PASSES). */
const MAX_PASSES = 4;

/**
 * What a check holds back of `text`'s first `end` characters: findingStartHold's (pii-hold.ts),
 * and back across single spaces, every run before whose end is a group of a number written in
 * groups (digits, capitals, `+().-`), whatever follows it: block mode needs only the start of a
 * finding kept from the reader, redact the finding whole, and a finding may begin inside a run
 * ('x@y-DE89 3704 ...': an IBAN after a hyphen), before a group that reads as none yet
 * ('-----BEGIN PRIVATE' of a PEM header), or next to a finding once that is a placeholder
 * ('+44 20 7946 0958 ' before an SSN its first reading overlapped). At most `cap` characters.
 */
function redactHold(text: string, end: number, cap: number): number {
  const head = end === text.length ? text : text.slice(0, end);
  const stop = Math.max(0, end - cap);
  let start = end - findingStartHold(head, cap);
  while (start > stop && text.charCodeAt(start - 1) === SPACE) {
    // The run before the space, whole: a cut inside a run would split what detectors read together.
    let before = start - 1;
    let group = true;
    while (before > stop && isFindingChar(text.charCodeAt(before - 1))) {
      if (!isGroupChar(text.charCodeAt(before - 1))) group = false;
      before--;
    }
    if (before === start - 1 || !isGroupChar(text.charCodeAt(start - 2))) break;
    start = before;
    if (!group) break; // only its end reads as a group: nothing before it can join
  }
  return end - start;
}

const SPACE = 0x20;

/** Digits, capitals, `+().-`: what a group of a number written in groups is made of. */
function isGroupChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    c === 0x2b ||
    c === 0x28 ||
    c === 0x29 ||
    c === 0x2e ||
    c === 0x2d
  );
}

/** The last `n` characters of `a + b`, without building `a + b` when `b` alone is long enough. */
function tail(a: string, b: string, n: number): string {
  if (b.length >= n) return b.slice(b.length - n);
  const joined = a + b;
  return joined.length > n ? joined.slice(joined.length - n) : joined;
}
