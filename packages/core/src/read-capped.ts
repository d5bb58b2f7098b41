import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A configuration-sized file's UTF-8 text, read up to `maxBytes`; a longer one throws. The cap
 * is on the bytes read, not on the size stat reports: a character device or a FIFO reports 0,
 * and readFileSync('/dev/zero') (a slip for a rule, config or token file) grew to 22 GB of
 * memory before the kernel killed the process.
 */
export function readFileCapped(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.allocUnsafe(65_536);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
