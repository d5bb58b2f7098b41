import type { ReaderSplitOptions } from '@llmsec/detect/replay';
import { UsageError } from '../io.ts';

/**
 * LLMSEC_REPLAY_READERS: how many reader threads read a large regular file at once (1 to 16;
 * unset: two on a machine with three cores or more, else one: @llmsec/detect's replay-split.ts
 * says why). For comparing on a given machine (bench/replay/run.ts has a row with it).
 * Throws UsageError when set to anything else.
 */
export function readerSplit(env: NodeJS.ProcessEnv = process.env): ReaderSplitOptions | undefined {
  const value = env.LLMSEC_REPLAY_READERS;
  if (value === undefined || value === '') return undefined;
  const readers = /^[0-9]{1,2}$/.test(value) ? Number(value) : Number.NaN;
  if (!(readers >= 1 && readers <= 16)) {
    throw new UsageError(`LLMSEC_REPLAY_READERS must be a whole number from 1 to 16, got "${value}"`);
  }
  return { readers };
}
