import { TestRunner } from 'vitest';

/** What a helper's own bound leaves before the test's timeout, so that its error is the one reported. */
const MARGIN_MS = 1_000;

/**
 * A bound for a wait on another process (a start-up line, an exit) that follows the running
 * test's own timeout instead of a fixed figure: the ms left of that timeout, less a second so
 * that the helper's error, which can name what the process printed, fails the test rather than
 * vitest's bare "timed out". A fixed bound below the test's failed where the test had room:
 * starting `llmsec detector` from sources costs about 1 s of CPU (some 1,050 modules loaded),
 * which the CI host at load 20-28 on 2 cores stretched past 20 s.
 *
 * Outside a test (a beforeAll hook, a bench script) there is no test timeout to follow:
 * `outsideMs`, which for a hook should stay below the config's hookTimeout.
 */
export function testTimeLeftMs(outsideMs = 45_000): number {
  const test = TestRunner.getCurrentTest();
  const started = test?.result?.startTime;
  if (test === undefined || started === undefined || !(test.timeout > 0)) return outsideMs;
  return Math.max(test.timeout - (Date.now() - started) - MARGIN_MS, 1);
}
