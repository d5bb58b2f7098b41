import type { CliIO } from '../io.ts';

/**
 * `llmsec replay` on two threads starts worker threads from files next to its modules
 * (replay-engine-thread, @llmsec/detect's replay-reader-worker). A CLI bundled into one file
 * (esbuild, rolldown, webpack) or an install that lost those files has none: the replay then
 * runs on one thread, the same events in the same order, hence the same alerts, and says so
 * in one line on stderr. Thrown by runOnEngineThread when its thread did not start.
 */
export class EngineThreadUnavailableError extends Error {
  override readonly name = 'EngineThreadUnavailableError';
}

/** The one line saying why the replay runs on one thread. */
export function warnOneThread(io: CliIO, reason: string): void {
  io.stderr.write(
    `llmsec replay: warning: cannot start a worker thread (${oneLine(reason)}); replaying on one thread (as --threads 1), same alerts\n`,
  );
}

function oneLine(text: string): string {
  const first = text.split('\n', 1)[0]!.trim();
  return first.length > 300 ? `${first.slice(0, 300)}…` : first;
}
