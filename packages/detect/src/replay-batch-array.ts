/**
 * The arrays of a replay reader's batches (replay-reader-worker.ts): each made at its full
 * length, filled by index (ReplayProjection.write's `at`) and cut to what was written before it
 * is posted. Grown by push from empty, a batch's array allocated its store ~3 times over (V8
 * grows it by half its capacity plus 16 at a time, each growth a copy): ~460 of the reader's
 * ~2,400 bytes allocated a line (V8's sampling heap profiler with garbage included, 200 k lines
 * of the bench corpus), and every byte allocated brings the thread's next scavenge closer.
 *
 * The arrays are copies of one array of undefineds made by push, so they are packed (no holes),
 * and cutting the length keeps them packed (V8 trims the store or marks the tail past the new
 * length as holes, without changing the array's kind). That matters: a structured clone writes
 * a packed array densely, an array with holes as a sparse one (index and value, per element).
 * Writing past the end appends (a value beyond it would make a hole: `at` is never beyond).
 */
export class BatchArrays {
  private readonly blank: unknown[] = [];

  constructor(length: number) {
    for (let i = 0; i < length; i++) this.blank.push(undefined);
  }

  /** A new batch's array: `length` undefineds, to fill from index 0. */
  fresh(): unknown[] {
    return this.blank.slice();
  }
}

/** `values` cut to its first `end` values (the same array), ready to post. */
export function cutBatch(values: unknown[], end: number): unknown[] {
  values.length = end;
  return values;
}
