import { DEFAULT_PRICES, knownModel } from '@llmsec/core';
import { HttpError } from './http-errors.ts';

/**
 * The models clients may name. The API used to forward any `model` a client sent upstream:
 * cost estimates for unknown names were 0 (a free pass through cost limits) and every invented
 * name reached the telemetry. Now a model must be one the operator lists (`models` option), or,
 * by default, one of the price table's models (a dated id such as `gpt-4o-mini-2024-07-18`
 * counts as its table entry); anything else is a 400 that names the field.
 */
export function modelAllowlist(models: readonly string[] | undefined): (model: string) => void {
  const listed = models !== undefined ? new Set(models) : undefined;
  return function checkModel(model: string): void {
    const ok = listed !== undefined ? listed.has(model) : knownModel(model, DEFAULT_PRICES) !== undefined;
    if (!ok)
      throw new HttpError(
        400,
        'invalid_request_error',
        `model ${JSON.stringify(model.slice(0, 100))} is not available`,
        { param: 'model' },
      );
  };
}
