import type { DetectionEngineOptions } from '@llmsec/detect';
import { ConfigError } from './config.ts';

/** What the engine keeps its windows, baselines and incidents in. */
export interface StateChoice {
  /** Engine options to add (none for memory). */
  engineOptions: Partial<DetectionEngineOptions>;
  /** For /metrics and /-/ready: the store's name and whether it answers. */
  health: () => { store: string; healthy: boolean };
  close: () => Promise<void>;
}

/**
 * `--state memory` (default): the engine's own maps; each replica detects on what it sees.
 * `--state redis://…`: shared detection state so replicas behind a round-robin exporter detect
 * as one. That needs @llmsec/detect's Redis state (issue 9), which this build of the engine
 * does not offer yet: asking for it fails at start with a clear message instead of silently
 * detecting per replica.
 */
export function chooseState(url: string): StateChoice {
  if (url === 'memory') {
    return { engineOptions: {}, health: () => ({ store: 'memory', healthy: true }), close: async () => {} };
  }
  throw new ConfigError(
    `--state ${redact(url)}: shared Redis detection state needs @llmsec/detect's Redis state store (issue 9), which this build does not have yet; run one replica with --state memory (the default)`,
  );
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(bad URL)';
  }
}
