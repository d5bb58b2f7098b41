// @llmsec/detect/replay: the streaming pieces behind `llmsec replay` (a byte-level JSONL line
// splitter, a fast event decoder, the alert table). Public for tools built on the replay loop,
// kept out of the main entry point so that the engine's API stays small.
export { DEFAULT_MAX_LINE_BYTES, decodeEventLineFast, eventTime, forEachLine } from './event-reader.ts';
export type { LineReaderOptions } from './event-reader.ts';
export { formatAlertTable } from './alert-table.ts';
export { parseDuration } from './duration.ts';
export { gunzipIfCompressed } from './gzip-input.ts';
export {
  ReplayAbortedError,
  replayFileOnTwoThreads,
  replayReaderFrom,
  ReplayThreadUnavailableError,
  startReplayReader,
} from './replay-pipeline.ts';
export { replayProjector } from './replay-projection.ts';
export type { PipelineHandlers, ReaderOptions, ReplayReader, ReplayReaderLink } from './replay-pipeline.ts';
export type { ReaderSplitOptions } from './replay-split.ts';
