// The replay floor: read the file with readline and JSON.parse every line, nothing else.
// Run as a script (subprocess row) or imported (in-process row). Prints maxrss to stderr.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export async function floor(file: string): Promise<number> {
  let n = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    JSON.parse(line);
    n++;
  }
  return n;
}

if (import.meta.main) {
  const n = await floor(process.argv[2]!);
  process.stderr.write(`floor: ${n} lines\n`);
}
