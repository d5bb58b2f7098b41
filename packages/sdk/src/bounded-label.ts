/**
 * A metric label whose value set is capped. Layer and filter names come from configuration,
 * not from users (tool names in tool_abuse_attempt do not, so they are no label), but a
 * misconfiguration must not turn into unbounded series:
 * the first `maxValues` distinct values are kept and every later one is reported as `other`.
 * (Model names do come from clients: they are labelled by the price table, model-label.ts.)
 */
export const OTHER_LABEL = 'other';
const MAX_VALUE_CHARS = 64;

export interface BoundedLabelOptions {
  /** Distinct values kept before folding into `other`. @default 50 */
  maxValues?: number;
}

export class BoundedLabel {
  private readonly maxValues: number;
  private readonly seen = new Set<string>();

  constructor(options: BoundedLabelOptions = {}) {
    const maxValues = options.maxValues ?? 50;
    if (!Number.isInteger(maxValues) || maxValues < 1) {
      throw new TypeError(`BoundedLabel: maxValues must be a positive integer, got ${String(maxValues)}`);
    }
    this.maxValues = maxValues;
  }

  /** The label value to record for `raw`: itself (clipped) while there is room, else `other`. */
  value(raw: unknown): string {
    let text = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : String(raw);
    if (text.length === 0) return 'unknown';
    if (text.length > MAX_VALUE_CHARS) text = text.slice(0, MAX_VALUE_CHARS);
    if (this.seen.has(text)) return text;
    if (this.seen.size >= this.maxValues) return OTHER_LABEL;
    this.seen.add(text);
    return text;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** A label restricted to a fixed set: anything else is `other`. */
export function oneOf<T extends string>(allowed: readonly T[], raw: unknown): T | typeof OTHER_LABEL {
  return typeof raw === 'string' && (allowed as readonly string[]).includes(raw) ? (raw as T) : OTHER_LABEL;
}
