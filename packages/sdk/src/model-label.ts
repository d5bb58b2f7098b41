import { DEFAULT_PRICES, knownModel, type PriceTable } from '@llmsec/core';
import { OTHER_LABEL } from './bounded-label.ts';

/**
 * The `model` metric label: the price table's name of the model (`gpt-4o-mini-2024-07-18` →
 * `gpt-4o-mini`), else `other`. Model names often come from clients (an API that forwards the
 * request's `model`); keeping the first N distinct names seen would let junk names take every
 * slot and fold real models into `other` for good. The table is the operator's configuration,
 * so the label set is bounded by it, whatever clients send.
 */
export class ModelLabel {
  private readonly table: PriceTable;
  /** Answers by raw name (bounded; past the bound, names are matched each time). */
  private readonly memo = new Map<string, string>();

  constructor(table: PriceTable = DEFAULT_PRICES) {
    this.table = table;
  }

  value(raw: unknown): string {
    if (typeof raw !== 'string' || raw.length === 0)
      return raw === undefined || raw === null || raw === '' ? 'unknown' : OTHER_LABEL;
    // No model id is longer; a longer string is not worth matching (nor keeping as a memo key).
    if (raw.length > MAX_MODEL_CHARS) return OTHER_LABEL;
    let label = this.memo.get(raw);
    if (label === undefined) {
      label = knownModel(raw, this.table) ?? OTHER_LABEL;
      if (this.memo.size < MAX_MEMO) this.memo.set(raw, label);
    }
    return label;
  }
}

const MAX_MODEL_CHARS = 128;
const MAX_MEMO = 1024;
