/**
 * Does a call on Anthropic's beta namespace cost what the plain one does, instrumented? The
 * beta wrap (instrument-client.ts) reuses the messages adapter, so it should: this measures
 * it. Real `@anthropic-ai/sdk` with a canned `fetch` (no socket), the bench's discarding OTel
 * providers, the default guards. Four clients, `messages.create` and `beta.messages.create`,
 * plain and instrumented; each round times every variant over `--calls` calls in a new random
 * order, CPU µs per call; prints each variant's median over `--rounds` and the instrumented
 * minus plain difference per namespace (paired per round: median and IQR).
 *
 *   npx node --conditions=@llmsec/source bench/instrumentation/beta-call.ts [--rounds 15] [--calls 500]
 *
 * 2026-12-05 11:01 UTC, load 13-15 on the shared 2 cores, --rounds 11 --calls 2000: plain 33.9 /
 * 34.3 µs (messages / beta), instrumented 68.6 / 67.7; added 35.2 (IQR 32.3-36.9) / 35.3
 * (30.4-36.4): the same. With the plain client's own tracing left on (a global tracer
 * provider) plain was 76.1 / 76.8 µs, more than instrumented (70.7 / 72.3): the SDK's
 * built-in span costs about what ours with the default guards does.
 */
import Anthropic from '@anthropic-ai/sdk';
import { defaultGuards, instrumentClient } from '../../packages/sdk/src/index.ts';
import { installDiscardingProviders } from './otel-providers.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 15);
const CALLS = arg('calls', 500);

installDiscardingProviders();

const BODY = {
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  system: 'You are a helpful assistant for the Acme billing portal. Answer briefly.',
  messages: [
    { role: 'user' as const, content: 'How do I download last month invoice as a PDF from the portal?' },
  ],
};
const CANNED = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-4-5-20251001',
  content: [{ type: 'text', text: `Echo: ${BODY.messages[0]?.content}` }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 34, output_tokens: 17 },
});
const fetch = (): Promise<Response> =>
  Promise.resolve(new Response(CANNED, { status: 200, headers: { 'content-type': 'application/json' } }));
const make = (): Anthropic =>
  new Anthropic({ apiKey: 'bench', baseURL: 'http://127.0.0.1:9', maxRetries: 0, fetch });

const guarded = { guards: defaultGuards({ allowedTools: ['get_weather'] }) };
const plain = make();
// The SDK's own tracing off, as on an instrumented client (patch.ts suppressBuiltInSpans): with
// a global tracer provider the plain client otherwise makes a span of its own per call, and the
// difference would be ours minus the SDK's (measured: instrumented 3.8-4.5 us under it).
(plain as unknown as { _tracer?: unknown })._tracer = undefined;
const inst = instrumentClient(make(), guarded);
const variants: Record<string, () => Promise<unknown>> = {
  'messages plain': () => plain.messages.create(BODY),
  'messages instrumented': () => inst.messages.create(BODY),
  'beta plain': () => plain.beta.messages.create(BODY),
  'beta instrumented': () => inst.beta.messages.create(BODY),
};

async function time(run: () => Promise<unknown>, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await run();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / n;
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] ?? NaN;
};

for (const run of Object.values(variants)) await time(run, CALLS); // warm-up
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(variants).sort(() => Math.random() - 0.5);
  for (const k of order) samples[k]?.push(await time(variants[k] as () => Promise<unknown>, CALLS));
}
for (const [k, xs] of Object.entries(samples))
  console.log(`${k.padEnd(22)} ${q(xs, 0.5).toFixed(1)} us/call CPU`);
for (const ns of ['messages', 'beta']) {
  const a = samples[`${ns} instrumented`] ?? [];
  const b = samples[`${ns} plain`] ?? [];
  const d = a.map((x, i) => x - (b[i] ?? NaN));
  console.log(
    `${ns} added: median ${q(d, 0.5).toFixed(1)} us, IQR ${q(d, 0.25).toFixed(1)}..${q(d, 0.75).toFixed(1)}`,
  );
}
