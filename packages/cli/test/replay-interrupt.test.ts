// Ctrl-C (SIGINT) or SIGTERM during `llmsec replay`: before, the process was killed by the
// signal (no alerts, or a prefix that depended on buffering, and no summary). Now the reading
// ends, what was read runs through the rules, and the alerts (whole lines) and a summary that
// says it was interrupted are printed; the exit is 130 / 143. The input is a pipe the test keeps
// open (stdin, or a FIFO as FILE), so the replay cannot end by itself: the signal is sent once
// alerts show on stdout, and the answer must be that of a replay of the lines it says it read.
import { describe, expect, it } from 'vitest';
import { expectInterrupted, fedReplay, replayOfFirst } from './replay-interrupt-run.ts';

async function interrupted(args: string[], input: 'stdin' | 'fifo', signal: 'SIGINT' | 'SIGTERM') {
  const replay = fedReplay(args, input);
  await replay.output;
  replay.child.kill(signal);
  const run = await replay.finished;
  const lines = expectInterrupted(run, signal);
  // Exactly the alerts of the lines it says it read.
  expect(run.stdout).toBe(replayOfFirst(lines));
  return run;
}

describe('llmsec replay interrupted by a signal', () => {
  it('SIGTERM on stdin (one thread): the alerts so far, the summary, exit 143', async () => {
    await interrupted([], 'stdin', 'SIGTERM');
  }, 60_000);

  it('SIGINT on a FILE read by the reader thread (default): the alerts so far, the summary, exit 130', async () => {
    await interrupted([], 'fifo', 'SIGINT');
  }, 60_000);

  it('SIGINT on a FILE with --threads 1: the alerts so far, the summary, exit 130', async () => {
    await interrupted(['--threads', '1'], 'fifo', 'SIGINT');
  }, 60_000);
});
