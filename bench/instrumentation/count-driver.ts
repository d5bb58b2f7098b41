/**
 * A fixed number of instrumented calls, for instruction counts under valgrind. Note: these move
 * with the load too. V8's GC heuristics and the batch processors' export timers run on wall-clock
 * time, and at 500 vs 1,500 calls one major GC more or less inside the window is ~100 k
 * instructions per call (±8% between pairs, 2026-12-05). Repeat the pairs, take long windows:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node_modules/node/bin/node \
 *     --conditions=@llmsec/source bench/instrumentation/count-driver.ts -- \
 *     --rev <rev|WORKTREE|plain> --n 2000 [--stream]
 *
 * Run it for two `--n` (say 1,000 and 3,000) and divide the difference of the collected
 * instructions by the difference of the counts: start-up, loading and JIT warm-up cancel, what
 * is left is the instructions per call (GC included). `--rev plain`: the uninstrumented client,
 * the base to subtract. Otherwise instrumentClient and SecurityEvents of that revision's
 * packages/sdk/src (bench/events/revision.ts; `WORKTREE`: the uncommitted sources), no guards.
 * Same call, canned `fetch` and providers as profile-driver.ts (otel-providers.ts: batch
 * processors, llmsec's histograms aggregated in process). Valgrind serialises the JIT's threads:
 * compare revisions with it, not against CPU times.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import type { instrumentClient as InstrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import type { SecurityEvents as Events } from '../../packages/sdk/src/security-events.ts';
import type { LocalHistograms as Histograms } from '../../packages/sdk/src/local-histograms.ts';
import { sdkSourcesAt } from '../events/revision.ts';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { installDiscardingProviders } from './otel-providers.ts';

const { values } = parseArgs({
  options: {
    rev: { type: 'string', default: 'WORKTREE' },
    n: { type: 'string', default: '2000' },
    stream: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const stream = values.stream;
let client = new OpenAI({
  apiKey: 'bench',
  baseURL: 'http://127.0.0.1:9/v1',
  maxRetries: 0,
  fetch: stream ? cannedStreamFetch : cannedFetch,
});
let providers;
if (values.rev === 'plain') providers = installDiscardingProviders();
else {
  const src = sdkSourcesAt(values.rev);
  const load = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(join(src, file)).href)) as T;
  // That copy's histograms aggregated in process, as under setupLlmsec (otel-providers.ts).
  const { LocalHistograms } = await load<{ LocalHistograms: typeof Histograms }>('local-histograms.ts');
  providers = installDiscardingProviders(LocalHistograms);
  const { instrumentClient } = await load<{ instrumentClient: typeof InstrumentClient }>(
    'instrumentation/index.ts',
  );
  const { SecurityEvents } = await load<{ SecurityEvents: typeof Events }>('security-events.ts');
  client = instrumentClient(client, { events: new SecurityEvents() });
}
for (let i = 0; i < N; i++) {
  if (stream) for await (const _ of await client.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else await client.chat.completions.create(CHAT_BODY);
  // Let the batch processors' timers and exports run as in a server (every 100 calls).
  if (i % 100 === 99) await new Promise(setImmediate);
}
await providers.shutdown();
