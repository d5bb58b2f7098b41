import { diag, type Counter, type Meter } from '@opentelemetry/api';
import { untraced } from '@llmsec/core/internal';
import type { RedisDetectionState } from './redis-state.ts';
import type { SharedStats } from './shared-types.ts';

/**
 * Shared mode's switch between Redis and local detection: the mode in the shared stats, the
 * `llmsec.detect.state.degraded` gauge and `llmsec.detect.state.degraded_episodes` counter, one
 * warning per episode, and the probe (a write: RedisDetectionState.ping) every `probeIntervalMs`
 * that switches back. What happens to the events when Redis fails (the fallback engine,
 * FallbackFeed) is the shared engine's.
 */
export class DegradedMode {
  private readonly stats: SharedStats;
  private readonly state: RedisDetectionState;
  /** Called once Redis answers again (the mode is 'shared' by then). */
  private readonly onBack: () => void;
  private readonly gauge: number[] = [0];
  private readonly episodes: Counter;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  /** A probe is waiting for its answer: the next tick skips, so one answer switches back once. */
  private probing = false;
  /** The engine stopped: a probe answering after it neither switches back nor hands back. */
  private stopped = false;

  constructor(stats: SharedStats, state: RedisDetectionState, meter: Meter, onBack: () => void) {
    this.stats = stats;
    this.state = state;
    this.onBack = onBack;
    const gauge = meter.createObservableGauge('llmsec.detect.state.degraded', {
      description: '1 while detection runs on local state because Redis is unreachable, else 0',
    });
    gauge.addCallback((r) => r.observe(this.gauge[0]!));
    this.episodes = meter.createCounter('llmsec.detect.state.degraded_episodes', {
      description: 'Times the shared detection state became unreachable and detection went local',
    });
    this.episodes.add(0);
  }

  /** Redis failed: a new episode (counted, one warning) unless one is under way. */
  enter(err: unknown): void {
    if (this.stats.mode === 'degraded') return;
    this.stats.mode = 'degraded';
    this.stats.degradedEpisodes++;
    this.gauge[0] = 1;
    this.episodes.add(1);
    diag.warn(
      `llmsec detect: shared detection state unreachable (${err instanceof Error ? err.message : String(err)}); ` +
        'detecting in this process only until Redis answers again',
    );
  }

  /** Probes Redis until it answers (no-op while probing). */
  startProbing(): void {
    if (this.probeTimer !== undefined) return;
    this.probeTimer = untraced(() => setInterval(() => void this.probe(), this.state.probeIntervalMs));
    this.probeTimer.unref();
  }

  /** The engine stopped: no more probes. */
  stop(): void {
    this.stopped = true;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
  }

  /**
   * One probe now, not waiting for the interval (the engine is stopping with a round's writes in
   * doubt): resolves once it has answered, switched back (onBack called) if Redis took it. No-op
   * (resolved at once) when not degraded or while a probe is in flight.
   */
  probeNow(): Promise<void> {
    return this.stats.mode === 'degraded' ? this.probe() : Promise.resolve();
  }

  private probe(): Promise<void> {
    // A probe can outlast the interval (a client reconnecting is waited for, up to the command
    // timeout): overlapping probes would each switch back and hand back.
    if (this.probing) return Promise.resolve();
    this.probing = true;
    return this.state.ping().then(
      () => {
        this.probing = false;
        // A probe in flight at shutdown: the process has left (its incidents resolved at its
        // leaving time), so handing its degraded incidents to the fleet now would be wrong.
        if (this.stopped) return;
        if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        this.stats.mode = 'shared';
        this.gauge[0] = 0;
        diag.info('llmsec detect: shared detection state reachable again; back to shared detection');
        this.onBack();
      },
      () => {
        this.probing = false; // still down: the next probe tries again
      },
    );
  }
}
