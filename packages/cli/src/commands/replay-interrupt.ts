// Ctrl-C (SIGINT) or SIGTERM during `llmsec replay`: a user piping a huge log who stops it wants
// the alerts of what was read so far and a summary, not a process killed mid-output. The first
// signal ends the reading (the reader thread, or the stream read on one thread); what was read
// runs through the rules, is flushed and printed with the summary, which says it was interrupted,
// and the exit is 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process killed by them. A
// second signal while finishing exits at once with the same codes.
import { endProcessWhenDone } from '../io.ts';

/** The signals a replay is interrupted by. */
export type InterruptSignal = 'SIGINT' | 'SIGTERM';

const SIGNALS: readonly InterruptSignal[] = ['SIGINT', 'SIGTERM'];

/** 128 + the signal's number, as a shell reports a process ended by it. */
export const INTERRUPT_EXIT: Readonly<Record<InterruptSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The signal's number, as the shared flag holds it (0: none yet; DONE: the replay ended). */
const SIGNAL_NUMBER: Readonly<Record<InterruptSignal, number>> = { SIGINT: 2, SIGTERM: 15 };
const DONE = -1;

/** What a replay run is told of an interrupt. */
export interface ReplayInterrupt {
  /** The signal that interrupted the run, once one came. */
  readonly signal: InterruptSignal | undefined;
  /** Calls `stop` when the run is interrupted (at once if it was already). */
  onInterrupt(stop: () => void): void;
}

/** An interrupt that never comes (a run nobody can signal, as in tests calling the command). */
export const NEVER_INTERRUPTED: ReplayInterrupt = { signal: undefined, onInterrupt: () => undefined };

/** An interrupt raised by calling `raise`: the starting thread's side. */
class Interrupt implements ReplayInterrupt {
  signal: InterruptSignal | undefined;
  private stops: (() => void)[] = [];

  onInterrupt(stop: () => void): void {
    if (this.signal !== undefined) stop();
    else this.stops.push(stop);
  }

  raise(signal: InterruptSignal): void {
    if (this.signal !== undefined) return;
    this.signal = signal;
    const stops = this.stops;
    this.stops = [];
    for (const stop of stops) stop();
  }
}

/**
 * Runs `run` with SIGINT and SIGTERM caught (only while it runs: the handlers are removed
 * after). The first raises the interrupt `run` is given; a second exits the process at once
 * (130 or 143). `shared`: a flag (Int32Array on a SharedArrayBuffer) that tells the engine's
 * thread (interruptFromShared), set before the interrupt's own stops run.
 */
export async function catchingInterrupts<T>(
  run: (interrupt: ReplayInterrupt) => Promise<T>,
  shared?: Int32Array,
): Promise<T> {
  const interrupt = new Interrupt();
  const onSignal = (signal: InterruptSignal): void => {
    if (interrupt.signal !== undefined) process.exit(INTERRUPT_EXIT[signal]);
    if (shared !== undefined) {
      Atomics.store(shared, 0, SIGNAL_NUMBER[signal]);
      Atomics.notify(shared, 0);
    }
    interrupt.raise(signal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    return await run(interrupt);
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    // The output is written: a reader thread or stream still blocked on a pipe nobody writes
    // to must not keep the process alive (bin.ts ends it with the exit code, once stdout and
    // stderr took all of it: a slow reader of the alerts still gets every line).
    if (interrupt.signal !== undefined) endProcessWhenDone({ afterOutput: true });
  }
}

/**
 * The engine's thread's side of the flag catchingInterrupts sets: `signal` reads the flag (so a
 * reader thread ended by the interrupt is never taken for a failure, whichever message comes
 * first), and the stops run when it is notified. Call `done` when the replay ends: the wait
 * would otherwise keep the thread alive.
 */
export function interruptFromShared(shared: Int32Array): ReplayInterrupt & { done(): void } {
  const local = new Interrupt();
  const read = (): InterruptSignal | undefined =>
    SIGNALS.find((s) => SIGNAL_NUMBER[s] === Atomics.load(shared, 0));
  const wait = Atomics.waitAsync(shared, 0, 0);
  const raise = (): void => {
    const signal = read();
    if (signal !== undefined) local.raise(signal);
  };
  if (wait.async) void wait.value.then(raise);
  else raise();
  return {
    get signal() {
      return read() ?? local.signal;
    },
    onInterrupt: (stop) => local.onInterrupt(stop),
    done(): void {
      // Only if no signal came: the starting thread's value is kept for `signal`.
      if (Atomics.compareExchange(shared, 0, 0, DONE) === 0) Atomics.notify(shared, 0);
    },
  };
}
