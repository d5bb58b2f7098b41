/**
 * An earlier revision's SDK sources, loaded beside the current ones for an A/B in one process:
 * `git archive <rev> packages/sdk/src` into a temporary directory whose node_modules links to
 * this checkout's (so `@llmsec/core` and the OpenTelemetry packages are the current, shared
 * instances: only the SDK's own code differs). The directory is removed at exit. `WORKTREE`
 * copies the uncommitted sources instead, for an A/B before committing.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger, Meter } from '@opentelemetry/api';
import type { LlmsecMetrics, SecurityEvents } from '@llmsec/sdk';

const ROOT = resolve(import.meta.dirname, '../..');

/** The revision name that stands for the working tree's uncommitted packages/sdk/src. */
export const WORKTREE = 'WORKTREE';

/**
 * Imports `file` (e.g. `security-events.ts`) of packages/sdk/src as it was at `rev`, or as it is
 * in the working tree for `WORKTREE` (copied the same way, so both sides of an A/B load alike).
 */
export async function importSdkAt<T>(rev: string, file: string): Promise<T> {
  return (await import(pathToFileURL(join(sdkSourcesAt(rev), file)).href)) as T;
}

/**
 * `rev`'s SecurityEvents with `rev`'s LlmsecMetrics (its LocalCounter and attribute caches), from
 * one copy of its sources, recording on `meter`: a driver that gave every revision the current
 * tree's metrics (`llmsec.metrics`) compared the same metrics code on both sides, so no A/B could
 * see a change to it (a LocalCounter.add made ~1 us slower read 0.98 in ab.ts --case own).
 */
export async function eventsAt(rev: string, options: EventsAtOptions): Promise<SecurityEvents> {
  const dir = sdkSourcesAt(rev);
  const load = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(join(dir, file)).href)) as T;
  const { SecurityEvents: Events } = await load<{ SecurityEvents: typeof SecurityEvents }>(
    'security-events.ts',
  );
  const { LlmsecMetrics: Metrics } = await load<{ LlmsecMetrics: typeof LlmsecMetrics }>('metrics.ts');
  return new Events({
    serviceName: 'bench',
    logger: options.logger,
    metrics: new Metrics({ meter: options.meter }),
  });
}

export interface EventsAtOptions {
  logger: Logger;
  /** A meter of its own per loaded revision (two revisions' counters on one meter would clash). */
  meter: Meter;
}

/**
 * The directory of packages/sdk/src as it was at `rev` (or the working tree's, `WORKTREE`), in a
 * temporary copy removed at exit: import several of its files from it so that they share one
 * copy of the SDK (two importSdkAt calls load two copies).
 */
export function sdkSourcesAt(rev: string): string {
  if (!/^[\w./~^-]+$/.test(rev)) throw new Error(`not a revision: ${rev}`);
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-bench-rev-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  if (rev === WORKTREE) {
    mkdirSync(join(dir, 'packages/sdk'), { recursive: true });
    cpSync(join(ROOT, 'packages/sdk/src'), join(dir, 'packages/sdk/src'), { recursive: true });
  } else {
    const archive = execFileSync('git', ['archive', rev, 'packages/sdk/src'], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'packages/sdk/src');
}
