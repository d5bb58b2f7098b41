import { diag, DiagLogLevel } from '@opentelemetry/api';
import { expect, it } from 'vitest';
import { defaultRules } from '../src/index.ts';
import { block, ev, T0, SEC } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { useHeldReplyRedis } from './reply-hold-proxy.ts';

/**
 * A process stopping with group writes in doubt (their replies never came) reads their groups
 * once, to send the lines of those that landed (in-doubt-writes.ts). That read was bounded per
 * call only, and the command timeout is on progress (any reply): a Redis answering each call
 * just within it held the host's shutdown for as many timeouts as there were groups to read (up
 * to 1,024). Now the shutdown's probe and read end within twice the command timeout in all,
 * and what is left unread is said and dropped.
 */

const held = useHeldReplyRedis();
/** Users whose tenth block is in the write held: each group is one read at shutdown. */
const USERS = 200;
/** Each command goes to Redis this long after the one before: 200 reads took 80 s before. */
const TRICKLE_MS = 400;
/** A bound on a hang only: the shutdown takes a few seconds now (the probe's writes, trickled). */
const HANG_MS = 40_000;

it("shutdown's read of in-doubt writes ends by its bound with a Redis answering each call slowly", async () => {
  const { proxy: p } = await held.start();
  const A = redisEngine(await held.client(p.port), defaultRules(), 0, freshRuleset('late-bound'), {
    commandTimeoutMs: 2_000,
    probeIntervalMs: 3_600_000,
    shutdownGraceMs: 0,
  });
  for (let i = 0; i < 9; i++)
    for (let u = 0; u < USERS; u++) A.engine.ingest(ev(block(T0 + i * SEC, `u${u}`)).event, T0 + i * SEC);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('shared');
  p.arm('hold');
  for (let u = 0; u < USERS; u++) A.engine.ingest(ev(block(T0 + 9 * SEC, `u${u}`)).event, T0 + 9 * SEC);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  p.trickle(TRICKLE_MS);
  p.release();
  const warned: string[] = [];
  const say = (m: string) => warned.push(m);
  diag.setLogger(
    { error: say, warn: say, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
  let outcome: string;
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    outcome = await Promise.race([
      A.engine.shutdown().then(() => 'returned'),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('hung'), HANG_MS))),
    ]);
    clearTimeout(timer);
  } finally {
    diag.disable();
  }
  // Before: 'hung' (the read of 200 groups, one every 400 ms).
  expect(outcome).toBe('returned');
  expect(warned.some((m) => /may have landed in Redis/.test(m))).toBe(true);
}, 120_000);
