/**
 * Cost reservations in integer micro-USD, from the one price table in `@llmsec/core`.
 */
import { costMicroUsd, DEFAULT_PRICES } from '@llmsec/core';
import type { PriceTable } from '@llmsec/core';

/**
 * Integer micro-USD for `inputTokens` in and `outputTokens` out on `model`, rounded up.
 * `undefined` when the model is not in the table: the caller then reserves no cost rather than
 * a made-up figure (the cost dimensions still see the settled cost if the app reports it).
 */
export function estimateCostMicroUsd(
  model: string,
  inputTokens: number,
  outputTokens: number,
  priceTable: PriceTable = DEFAULT_PRICES,
): number | undefined {
  return costMicroUsd(model, inputTokens, outputTokens, priceTable);
}
