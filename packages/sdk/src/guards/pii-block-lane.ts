import { detectSensitive, type RedactOptions } from '@llmsec/core';
import { findingStartHold } from './pii-hold.ts';
import type { LaneCheck } from './pii-stream-lanes.ts';

/**
 * piiGuard block mode's chunk check on one stream's text (one lane of it: a chat choice when
 * n > 1, pii-stream-lanes.ts). New text is checked once `step` characters have arrived, with
 * the `window` characters before it (a finding that straddles the step is whole in the window);
 * until then it is held back. A check that finds nothing still holds the end of the text that
 * may be the start of a finding not complete yet (pii-hold.ts, at most `window` characters, so
 * always inside the next window): releasing up to the end let the start of an address out
 * before the chunk completing it cut the stream. So no character of a finding reaches the
 * reader before the check that cuts the stream. Only the deltas are read (slicing the
 * accumulated text on every chunk would make a stream quadratic).
 *
 * A finding is left in `found.types` (the stream's, shared by its lanes); the guard cuts.
 * Nothing is rewritten: `next` passes the text on.
 */
export class PiiBlockLane implements LaneCheck {
  private tail = '';
  private fresh = '';
  private hold = 0;

  private readonly options: RedactOptions;
  private readonly window: number;
  private readonly step: number;
  private readonly found: { types: string[] | undefined };

  constructor(options: RedactOptions, window: number, step: number, found: { types: string[] | undefined }) {
    this.options = options;
    this.window = window;
    this.step = step;
    this.found = found;
  }

  get held(): number {
    return this.hold + this.fresh.length;
  }

  push(delta: string): number {
    this.fresh += delta;
    if (this.fresh.length < this.step) return this.hold + this.fresh.length;
    const window = this.tail + this.fresh;
    this.tail = window.length > this.window ? window.slice(-this.window) : window;
    this.fresh = '';
    const types = detectSensitive(window, this.options);
    if (types.length > 0) {
      this.found.types = types;
      this.hold = 0;
      return 0;
    }
    this.hold = findingStartHold(window, this.window);
    return this.hold;
  }

  next(text: string): string {
    return text;
  }

  end(): void {}
}
