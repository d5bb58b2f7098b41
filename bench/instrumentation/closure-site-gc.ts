/**
 * How a closure is put on openai 6's APIPromise decides whether every call's objects outlive the
 * young generation (issue 13, fd608de, e365c32): V8's parser allocates a function literal
 * assigned straight to a property (`p.parseResponse = (…) => …`) in the old generation, and the
 * dead closure then keeps its context and what that holds through every scavenge. No
 * instrumentation: plain openai 6, a canned fetch, calls one after another, and one closure
 * `(client, props) => parse.call(p, client, props)` put on each promise's `parseResponse`.
 *
 *   npx node --conditions=@llmsec/source bench/instrumentation/closure-site-gc.ts <shape> [calls]
 *
 * Runs itself again under `--trace-gc-nvp` and prints the bytes the scavenges promoted per call.
 * Shapes (the functions below): plain, stored, stored-return-p, returned-then-stored,
 * const-then-stored, this-not-p. Figures: docs/performance/sdk.md, 'The promotion was a closure'.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai-v6';
import { CHAT_BODY, cannedFetch } from './canned-chat.ts';

const shape = process.argv[2] ?? 'stored';
const calls = Number(process.argv[3] ?? '12000');
if (process.env.LLMSEC_CLOSURE_GC_CHILD !== '1') {
  const run = spawnSync(
    process.execPath,
    ['--trace-gc-nvp', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { encoding: 'utf8', env: { ...process.env, LLMSEC_CLOSURE_GC_CHILD: '1' }, maxBuffer: 256 * 1024 * 1024 },
  );
  if (run.status !== 0) throw new Error(`closure-site-gc child failed: ${run.stderr}`);
  let promoted = 0;
  let scavenges = 0;
  for (const line of run.stdout.split('\n')) {
    if (!line.includes(' gc=s ')) continue;
    scavenges++;
    promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  process.stdout.write(
    `${shape}: promoted ${(promoted / calls).toFixed(0)} B/call, ${scavenges} scavenges\n`,
  );
  process.exit(0);
}

type Parse = (client: unknown, props: unknown) => Promise<unknown>;
interface Api {
  parseResponse: Parse;
}
let parse: Parse | undefined;

/** A literal assigned straight to the property (old observeStream's shape): pretenured. */
function stored(p: Api): void {
  p.parseResponse = (client, props) => parse!.call(p, client, props);
}
/** The same, returning the promise (old attachResponse's shape). */
function storedReturnP(p: Api): Api {
  p.parseResponse = (client, props) => parse!.call(p, client, props);
  return p;
}
/** Made by a factory, stored by its caller (fd608de's shape). */
function make(p: Api): Parse {
  return (client, props) => parse!.call(p, client, props);
}
function returnedThenStored(p: Api): void {
  p.parseResponse = make(p);
}
/** Made here as a `const`, then stored: not a literal on the assignment's right, not pretenured. */
function constThenStored(p: Api): void {
  const f: Parse = (client, props) => parse!.call(p, client, props);
  p.parseResponse = f;
}
/** Pretenured too, but reaching the promise through `this`: no context, nothing of the call kept. */
function thisNotP(p: Api): void {
  p.parseResponse = function (this: Api, client, props) {
    return parse!.call(this, client, props);
  };
}
const shapes: Record<string, (p: Api) => unknown> = {
  plain: () => undefined,
  stored,
  'stored-return-p': storedReturnP,
  'returned-then-stored': returnedThenStored,
  'const-then-stored': constThenStored,
  'this-not-p': thisNotP,
};
const wrap = shapes[shape];
if (wrap === undefined) throw new Error(`closure-site-gc: shape one of ${Object.keys(shapes).join(', ')}`);
const openai = new OpenAI({
  apiKey: 'bench',
  baseURL: 'http://127.0.0.1:9/v1',
  maxRetries: 0,
  fetch: cannedFetch,
});
let answered = 0;
for (let i = 0; i < calls; i++) {
  const p = openai.chat.completions.create(CHAT_BODY as never);
  parse ??= (p as unknown as Api).parseResponse;
  wrap(p as unknown as Api);
  const answer = await p;
  if (answer.choices.length > 0) answered++;
}
if (answered !== calls) throw new Error(`closure-site-gc: ${answered} answers for ${calls} calls`);
