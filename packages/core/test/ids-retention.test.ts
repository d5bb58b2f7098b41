import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '@llmsec/core';

// A garbage collector to call: heap figures are only comparable right after a full collection.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('createIdGenerator (crypto-backed): what an id keeps alive', () => {
  it('a kept hex(16), as a lease id, does not hold its 32 KiB hex pool', () => {
    const g = createIdGenerator();
    const kept: string[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    // One id kept per pool, the rest drawn as event ids are: each kept id from another pool. V8
    // keeps a slice of 13 or more characters as a view of the string it was cut from, so these
    // 400 ids held 400 pools (400 x 32 KiB = 13 MB; 1.6 MB with the 4 KiB pool before 22a4cdf).
    for (let i = 0; i < 400; i++) {
      kept.push(g.hex(16));
      for (let k = 0; k < 2800; k++) g.eventId();
    }
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    expect(new Set(kept).size).toBe(400);
    for (const id of kept) expect(id).toMatch(/^[0-9a-f]{16}$/);
    // The ids themselves are ~400 x 40 bytes; the bound leaves room for the runner's own heap.
    expect(retained).toBeLessThan(3_000_000);
  });
});
