/**
 * A monotonic condition's step rule (monotonic.ts, and its slab form, which must decide alike):
 * a value equal to the newest one still in the window is a repeat, not a step: it takes the newest
 * entry's place (its time and event), the value unchanged. `prev` is the
 * last value taken, which is the window's newest while `size` > 0; once the window has emptied,
 * a value equal to it is a step again (nothing it could repeat is left to judge it against).
 */
export function repeatsPrevious(size: number, prev: number, value: number): boolean {
  return size > 0 && value === prev;
}
