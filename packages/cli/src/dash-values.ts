/**
 * node:util's parseArgs reads `--allowed-lateness -5s` as the option with its value missing
 * ("argument is ambiguous... use '--allowed-lateness=-XYZ'"): a word that starts with a dash
 * may be an option. None of our options starts with a digit, so an option's next word that is
 * a dash and a digit or dot (`-5s`, `-1`, `-.5`) is joined to it as its value
 * (`--allowed-lateness=-5s`), and the option's own check says what is wrong with it (a negative
 * duration or count), as it does for the `=` form. Nothing valid changes: parseArgs read such a
 * word as unknown short options (an error) wherever it stood. `--` ends the options.
 */
export function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(word) && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`${word}=${next}`);
      i++;
    } else {
      out.push(word);
    }
  }
  return out;
}
