// Where a rewrite changed a text: the length of the common prefix of the old and new text, and
// of the common suffix after it (never overlapping it). Rewrites placing annotations, stream
// offsets and message slots all locate the change this way; linear in the shorter text.

/** Characters `before` and `after` share at the start. */
export function commonPrefix(before: string, after: string): number {
  const max = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  return prefix;
}

/** Characters they share at the end, not counting the first `prefix` of either. */
export function commonSuffix(before: string, after: string, prefix: number): number {
  const max = Math.min(before.length, after.length) - prefix;
  let suffix = 0;
  while (
    suffix < max &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  )
    suffix++;
  return suffix;
}
