// Whether a JavaScript scan of each line could replace the reader thread's JSON.parse (issue 13):
// `npx node --conditions=@llmsec/source bench/replay/scan-vs-parse.ts FILE [--lines N] [--rounds N]`.
// A field-selective decoder must accept and reject exactly the lines JSON.parse does, so it must
// at least walk each line's whole structure and check its strings. This times, per line (CPU of
// this thread, medians over alternating rounds, FILE's first N lines: e.g. the bench corpus):
// - `JSON.parse` of the line (the floor's and the reader's own work);
// - `JSON.parse` of the same lines with both previews removed beforehand: what skipping the
//   previews could save at best, whatever does the skipping;
// - a scan of the line's structure with the strings found by indexOf, their contents unchecked,
//   nothing built: below what any exact scanner costs;
// - the same with the strings' contents checked (one regex a line for a control character or a
//   backslash not before a valid escape; a line it finds goes to JSON.parse, as a decoder would
//   hand it over): accepts exactly what JSON.parse accepts (checked below on the lines and on
//   hostile ones), still building nothing, so below what a field-selective decoder costs;
// - both previews checked by a sticky regex and cut out, the rest given to JSON.parse.
// Sixteenth round of the replay path (the tree at 3d56310f; 200 k lines of the 60 k-user bench
// corpus, 5 rounds, load 20-22): 1,388 / 1,046 / 1,188 / 1,733 / 2,265 ns a line, i.e. 1.00 /
// 0.75 / 0.86 / 1.25 / 1.63x JSON.parse. Skipping the previews would save a quarter of JSON.parse
// at best, and the exact scan costs more than JSON.parse before it builds a single value.
import { closeSync, openSync, readSync } from 'node:fs';
import { fmt, median, table } from '../report.ts';

const argv = process.argv.slice(2);
const flag = (name: string, otherwise: number): number => {
  const i = argv.indexOf(name);
  return i === -1 ? otherwise : Number(argv[i + 1]);
};
const file = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (file === undefined) {
  console.error('usage: bench/replay/scan-vs-parse.ts FILE [--lines N] [--rounds N]');
  process.exit(2);
}
const LINES = flag('--lines', 200_000);
const ROUNDS = flag('--rounds', 5);
/** Deeper lines are not this bench's subject: the scan gives up on them (a decoder would hand them over). */
const MAX_DEPTH = 64;

/**
 * A control character, or a backslash not followed by what a JSON escape continues with,
 * anywhere in the line. Where none is, every escape is valid and no string holds a control
 * character; where one is (a tab between tokens, an escaped backslash before an x), JSON.parse
 * decides.
 */
const BAD_CHARS = /[\x00-\x1f]|\\(?!["\\/bfnrt]|u[0-9a-fA-F]{4})/;
let checkContents = true;

/** After the string opened at `p`: the index past its closing quote, -1 if it does not close. */
function stringEnd(s: string, p: number): number {
  let q = p;
  for (;;) {
    q = s.indexOf('"', q + 1);
    if (q < 0) return -1;
    // Escaped when an odd number of backslashes precede it.
    let b = q - 1;
    while (s.charCodeAt(b) === 92) b--;
    if (((q - 1 - b) & 1) === 0) return q + 1;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** JSON's number grammar from `p`: the index past it, -1 if there is none. */
function numberEnd(s: string, p: number): number {
  let c = s.charCodeAt(p);
  if (c === 45) c = s.charCodeAt(++p);
  if (c === 48) c = s.charCodeAt(++p);
  else if (c >= 49 && c <= 57)
    do c = s.charCodeAt(++p);
    while (isDigit(c));
  else return -1;
  if (c === 46) {
    if (!isDigit(s.charCodeAt(++p))) return -1;
    do c = s.charCodeAt(++p);
    while (isDigit(c));
  }
  if (c === 101 || c === 69) {
    c = s.charCodeAt(++p);
    if (c === 43 || c === 45) c = s.charCodeAt(++p);
    if (!isDigit(c)) return -1;
    do c = s.charCodeAt(++p);
    while (isDigit(c));
  }
  return p;
}

function space(s: string, p: number): number {
  let c = s.charCodeAt(p);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = s.charCodeAt(++p);
  return p;
}

/** The value from `p`: the index past it, -1 if invalid (or nested deeper than MAX_DEPTH). */
function valueEnd(s: string, p: number, depth: number): number {
  p = space(s, p);
  const c = s.charCodeAt(p);
  if (c === 34) return stringEnd(s, p);
  if (c === 123 || c === 91) {
    if (depth === MAX_DEPTH) return -1;
    const close = c === 123 ? 125 : 93;
    p = space(s, p + 1);
    if (s.charCodeAt(p) === close) return p + 1;
    for (;;) {
      if (c === 123) {
        if (s.charCodeAt(p) !== 34) return -1;
        p = space(s, stringEnd(s, p));
        if (p < 0 || s.charCodeAt(p) !== 58) return -1;
        p++;
      }
      p = valueEnd(s, p, depth + 1);
      if (p < 0) return -1;
      p = space(s, p);
      const d = s.charCodeAt(p);
      if (d === close) return p + 1;
      if (d !== 44) return -1;
      p = space(s, p + 1);
    }
  }
  if (c === 116) return s.startsWith('true', p) ? p + 4 : -1;
  if (c === 102) return s.startsWith('false', p) ? p + 5 : -1;
  if (c === 110) return s.startsWith('null', p) ? p + 4 : -1;
  return numberEnd(s, p);
}

function scans(line: string): boolean {
  if (checkContents && BAD_CHARS.test(line)) return parses(line);
  const end = valueEnd(line, 0, 0);
  return end >= 0 && space(line, end) === line.length;
}

function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** A JSON string's rest from after its opening quote, contents checked (sticky). */
const STRING_REST = /(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const PREVIEW_KEYS = ['"request_preview":"', '"response_preview":"'];

function cutPreviewsAndParse(line: string): unknown {
  let rest = line;
  for (const key of PREVIEW_KEYS) {
    const at = rest.indexOf(key);
    if (at < 0) continue;
    STRING_REST.lastIndex = at + key.length;
    if (!STRING_REST.test(rest)) return JSON.parse(line);
    let end = STRING_REST.lastIndex;
    if (rest.charCodeAt(end) === 44) end++;
    rest = rest.slice(0, at) + rest.slice(end);
  }
  return JSON.parse(rest);
}

/** FILE's first LINES complete lines (read 16 MiB at a time: the corpus is larger than a string). */
function firstLines(): string[] {
  const fd = openSync(file!, 'r');
  const out: string[] = [];
  const buffer = Buffer.alloc(16 << 20);
  let carry = '';
  let read: number;
  while (out.length < LINES && (read = readSync(fd, buffer, 0, buffer.length, null)) > 0) {
    const parts = (carry + buffer.toString('utf8', 0, read)).split('\n');
    carry = parts.pop()!;
    out.push(...parts.filter((line) => line.length > 0));
  }
  closeSync(fd);
  return out.slice(0, LINES);
}
const lines = firstLines();
const withoutPreviews = lines.map((line) => {
  const event = JSON.parse(line) as Record<string, unknown>;
  delete event.request_preview;
  delete event.response_preview;
  return JSON.stringify(event);
});

// The scan times an exact validator only if it is one: the same answers as JSON.parse.
const hostile = [
  '{"a":"\t"}',
  '{"a":"\\x"}',
  '{"a":01}',
  '{"a":1.}',
  '{"a":-}',
  '{"a":"\\"}',
  '{"a":[1,]}',
  '{"a":1}x',
  '{"a" 1}',
  '{,}',
  '[1 2]',
  '',
  '{"a":"x"',
  '{"a":tru}',
  '\ufeff{}',
];
const ok = [
  '{"a":"\\\\"}',
  '{"a":"\\\\x"}',
  '{"a":\t1}',
  '{"a":"\\u00e9\\""}',
  ' {"a" : [ 1 , -0.5e+3 , true , null ] } ',
  '"x"',
];
for (const line of [...lines.slice(0, 10_000), ...hostile, ...ok]) {
  if (scans(line) !== parses(line)) throw new Error(`the scan and JSON.parse differ on ${line}`);
}

type Variant = [string, (line: string) => unknown, string[]];
const variants: Variant[] = [
  ['JSON.parse', JSON.parse, lines],
  ['JSON.parse, previews removed beforehand', JSON.parse, withoutPreviews],
  ['scan, string contents unchecked', (l) => ((checkContents = false), scans(l)), lines],
  ['scan, exact (as JSON.parse)', (l) => ((checkContents = true), scans(l)), lines],
  ['previews cut by regex, then JSON.parse', cutPreviewsAndParse, lines],
];
const ns = variants.map((): number[] => []);
for (let round = 0; round < ROUNDS; round++) {
  for (let v = 0; v < variants.length; v++) {
    const [, fn, input] = variants[v]!;
    const t0 = process.cpuUsage();
    for (let i = 0; i < input.length; i++) fn(input[i]!);
    const t = process.cpuUsage(t0);
    ns[v]!.push(((t.user + t.system) * 1000) / input.length);
  }
}
console.log(`${lines.length} lines, ${ROUNDS} rounds; CPU ns a line, median (min-max)`);
table(
  ['variant', 'ns a line', 'range', 'x JSON.parse'],
  variants.map(([name], v) => [
    name,
    fmt(median(ns[v]!)),
    `${fmt(Math.min(...ns[v]!))}-${fmt(Math.max(...ns[v]!))}`,
    (median(ns[v]!) / median(ns[0]!)).toFixed(2),
  ]),
);
