import type { SecurityEvent } from '@llmsec/core';
import type { SlabStore } from './slab-store.ts';

/**
 * A second implementation of a condition (ratio, identical, monotonic, baseline) whose
 * per-group state lives in its table's slab (slab-store.ts): a fixed region of each group's
 * row of its lane's doubles (scalars and a small inline window ring), plus, for some, a string row of
 * the group's for the evidence (made on the rule's first write). With many users the state
 * of an event's group is cold; the object path walks several dependent objects per rule (Map entry, row, state, its
 * arrays), the slab path reads and writes at known offsets of the group's page, loads the CPU
 * can overlap. The object condition stays the reference: a window too long for the inline ring
 * spills into the object condition's own state (see `SlabStore.spill`), and an incident
 * opening materialises the object state so `describe` and `evidence` are the object ones.
 */
export interface SlabRule {
  /** Doubles this rule takes in each row: its scalars, then (if any) its inline window ring. */
  readonly numWidth: number;
  /** Of those, the scalars (sizes, heads, aggregates), read on every update. */
  readonly scalarWidth: number;
  /** The width of this rule's string row (SlabStore.strings: made per group on the rule's first write); 0: none. */
  readonly strWidth: number;
  /**
   * Doubles of the rule's window ring kept apart from its lane's row, in a row of their own made
   * when the window takes its first entry (SlabStore.rings); absent or 0: the ring, if any, is in
   * the lane's row (`numWidth` counts it there).
   */
  readonly ringApart?: number;
  /** Whether the rule may spill a group's window into an object state. */
  readonly spills: boolean;
  /**
   * What feeds the rule: its categories and where-filter (`feedKey`). Two rules of one feed see
   * the same events in the same order (an identical rule may then read a ratio's window:
   * identical-shared.ts).
   */
  feed: string;
  /**
   * The categories that feed the rule, whatever its where-filter (`laneKey`): an event of one
   * category updates the rules of its lane one after the other (each past its own filter), so
   * the store lays a lane's scalars out side by side and the read-ahead reads a lane's first
   * lines (see SlabStore).
   */
  lane: string;
  /**
   * The rule's lane (its rows of doubles: SlabStore.lanes[lane]), where its scalars and its ring
   * start in the lane's row, its string slot and its spill slot, and its ring's rows apart
   * (SlabStore.rings[ring], -1 without `ringApart`): set once by the store.
   */
  place(lane: number, numAt: number, ringAt: number, strAt: number, spillAt: number, ring: number): void;
  /** Writes the scalars' initial values (other than 0) into the store's template row at `at`. */
  init(row: Float64Array, at: number): void;
  /** Folds in the event for group `g` at time `t`; says whether the condition holds (as the object update would). */
  update(store: SlabStore, g: number, event: SecurityEvent, t: number): boolean;
  /**
   * Group g's state as the object condition's state (for describe and evidence when an incident
   * opens). `event`: the event whose update just returned true, when the state is read for
   * that (the engine always passes it; baseline takes its evidence from it).
   */
  state(store: SlabStore, g: number, event?: SecurityEvent): unknown;
}

/** The region's first double: the inline window's size, or SPILLED when the window is an object state. */
export const SPILLED = -1;
