/**
 * `correlated_events` as every reader takes it (docs/formats.md: string[]): each entry a string,
 * or a number's decimal text as the ids are read; undefined when any entry is something else
 * (null, a boolean, an object, a list). `String()` turned those into "null" and
 * "[object Object]", ids of events that never existed, so such an event is refused with the
 * field's reason, as a session_id of the wrong kind is, on the JSONL readers and OTLP alike.
 */
export function eventIdList(value: readonly unknown[]): string[] | undefined {
  const out = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v === 'string') out[i] = v;
    else if (typeof v === 'number') out[i] = String(v);
    else return undefined;
  }
  return out;
}
