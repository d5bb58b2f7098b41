/**
 * The acquire scripts' replies: packed little-endian doubles. The full form (every script):
 * six header values (code, refusing subject, refusing dimension, retry, now, lease expiry),
 * then per subject twelve (previous level, level, limit factor, live leases, eight busy
 * times). The one-subject straight-line script answers its common case (admitted, level
 * normal before and after, factor 1) with the compact form: now, lease expiry, live leases
 * and the eight busy times, eleven doubles instead of eighteen (less to pack in Redis and to
 * read here; the omitted values are the constants written below).
 */
import { WINDOW_DIMS } from './dimensions.ts';
import { CODE_OK, type AcquireOutcome, type SubjectOutcome } from './store.ts';

/** Length in bytes of the compact one-subject reply (11 doubles). */
export const COMPACT_REPLY_BYTES = (3 + WINDOW_DIMS) * 8;

export function parseOneSubject(r: Buffer): AcquireOutcome {
  return r.length === COMPACT_REPLY_BYTES ? parseCompact(r) : parseAcquireReply(r, 1);
}

export function parseTwoSubjects(r: Buffer): AcquireOutcome {
  return parseAcquireReply(r, 2);
}

function busyAt(r: Buffer, at: number): number[] {
  const busyMs = new Array<number>(WINDOW_DIMS);
  for (let i = 0; i < WINDOW_DIMS; i++) {
    const b = r.readDoubleLE(at + i * 8);
    busyMs[i] = b > 0 ? b : 0;
  }
  return busyMs;
}

/** The compact form: admitted, one subject, level 0 before and after, factor 1. */
function parseCompact(r: Buffer): AcquireOutcome {
  return {
    code: CODE_OK,
    refusedSubject: -1,
    refusedDim: -1,
    retryAfterMs: 0,
    nowMs: Math.floor(r.readDoubleLE(0)),
    leaseExpiresAtMs: Math.floor(r.readDoubleLE(8)),
    subjects: [{ prevLevel: 0, level: 0, factor: 1, leases: r.readDoubleLE(16), busyMs: busyAt(r, 24) }],
  };
}

/** The full form: six header values then twelve per subject. */
export function parseAcquireReply(r: Buffer, n: number): AcquireOutcome {
  const subjects: SubjectOutcome[] = [];
  let at = 6 * 8;
  for (let s = 0; s < n; s++) {
    subjects.push({
      prevLevel: r.readDoubleLE(at),
      level: r.readDoubleLE(at + 8),
      factor: r.readDoubleLE(at + 16),
      leases: r.readDoubleLE(at + 24),
      busyMs: busyAt(r, at + 32),
    });
    at += (4 + WINDOW_DIMS) * 8;
  }
  return {
    code: r.readDoubleLE(0),
    refusedSubject: r.readDoubleLE(8),
    refusedDim: r.readDoubleLE(16),
    retryAfterMs: r.readDoubleLE(24),
    nowMs: Math.floor(r.readDoubleLE(32)),
    leaseExpiresAtMs: Math.floor(r.readDoubleLE(40)),
    subjects,
  };
}
