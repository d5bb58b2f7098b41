/**
 * A whole number written in decimal digits only, or undefined. `Number()` also takes `0x10`,
 * `1e3`, `0b1`, ` 100` and `100 ` (JavaScript's numeric literal grammar, whitespace trimmed), so
 * a typo or a shell quoting slip became some other count than the operator meant. 15 digits at
 * most: every such number is exact in a double.
 */
export function decimalInteger(text: string | undefined): number | undefined {
  return text !== undefined && /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined;
}
