import type { ReaderSplitOptions } from '@llmsec/detect/replay';
import { UsageError } from '../io.ts';

/**
 * LLMSEC_REPLAY_READERS: how many reader threads read a large regular file at once (1 to 16;
 * unset: two on a machine with three cores or more, else one: @llmsec/detect's replay-split.ts
 * says why). LLMSEC_REPLAY_RAW_LINES (auto, never, always): whether a reader hands lines to the
 * engine's thread undecoded when that thread waits for work (ReaderSplitOptions.rawLines;
 * unset: auto). Both for comparing on a given machine (bench/replay/run.ts has a row with the
 * first). Throws UsageError when either is set to anything else.
 */
export function readerSplit(env: NodeJS.ProcessEnv = process.env): ReaderSplitOptions | undefined {
  const value = env.LLMSEC_REPLAY_READERS;
  const raw = env.LLMSEC_REPLAY_RAW_LINES;
  let split: ReaderSplitOptions | undefined;
  if (value !== undefined && value !== '') {
    const readers = /^[0-9]{1,2}$/.test(value) ? Number(value) : Number.NaN;
    if (!(readers >= 1 && readers <= 16)) {
      throw new UsageError(`LLMSEC_REPLAY_READERS must be a whole number from 1 to 16, got "${value}"`);
    }
    split = { readers };
  }
  if (raw !== undefined && raw !== '') {
    if (raw !== 'auto' && raw !== 'never' && raw !== 'always') {
      throw new UsageError(`LLMSEC_REPLAY_RAW_LINES must be auto, never or always, got "${raw}"`);
    }
    split = { ...split, rawLines: raw };
  }
  return split;
}
