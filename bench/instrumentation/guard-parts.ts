/**
 * What reading a request's messages for the input guards costs with text parts, and what the
 * default input guards' check of them costs (message-text.ts joins text parts side by side
 * with '', as the model reads them): the OpenAI chat adapter's guardInput plus the default
 * input guards (pattern + piiGuard detect), per call, for one user message as one string, as
 * 2 text parts, as 10, and as 1,000 parts of 16 characters; and piiGuard redact's write-back
 * (applyInput) of an email cut across two parts. CPU time per call, median of the rounds,
 * random order; with `--base <dir>` (an unpacked older tree, as for guards.ts) the same cases
 * through that tree's adapter and guards beside these.
 *
 *   node --conditions=@llmsec/source bench/instrumentation/guard-parts.ts [--base <dir>] [--rounds 15]
 */
import { pathToFileURL } from 'node:url';
import { median } from '../report.ts';

interface Side {
  adapter: {
    guardInput(body: Record<string, unknown>): { messages: Array<{ role: string; content: string }> };
    applyInput(body: Record<string, unknown>, messages: unknown, system: unknown): unknown;
  };
  guards: Array<{ check(input: unknown, ctx: unknown): unknown }>;
  redact: { check(input: unknown, ctx: unknown): unknown };
}

async function load(root: string): Promise<Side> {
  const src = (p: string) => pathToFileURL(`${root}/packages/sdk/src/${p}`).href;
  const chat = (await import(src('instrumentation/openai-chat.ts'))) as {
    openaiChatAdapter: Side['adapter'];
  };
  const g = (await import(src('guards/index.ts'))) as {
    defaultGuards: () => { input?: Side['guards'] };
    piiGuard: (o: { mode: string }) => Side['redact'];
  };
  return {
    adapter: chat.openaiChatAdapter,
    guards: g.defaultGuards().input ?? [],
    redact: g.piiGuard({ mode: 'redact' }),
  };
}

const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 15;
const baseAt = process.argv.indexOf('--base');
const here = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const current = await load(here);
const base = baseAt > 0 ? await load(process.argv[baseAt + 1] as string) : undefined;

const ctx = { emit: () => undefined, input: undefined };
const PROMPT =
  'Please summarise the attached quarterly report and list the three largest cost items, with a short note on each one.';
const body = (content: unknown) => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content },
  ],
});
const partsOf = (text: string, n: number) => {
  const size = Math.ceil(text.length / n);
  return Array.from({ length: n }, (_, i) => ({ type: 'text', text: text.slice(i * size, (i + 1) * size) }));
};
const bodies: Record<string, { body: Record<string, unknown>; calls: number }> = {
  'one string': { body: body(PROMPT), calls: 20000 },
  '2 parts': { body: body(partsOf(PROMPT, 2)), calls: 20000 },
  '10 parts': { body: body(partsOf(PROMPT, 10)), calls: 20000 },
  '1,000 parts of 16 chars': { body: body(partsOf('x'.repeat(16000), 1000)), calls: 200 },
};
const cut = body([
  { type: 'text', text: 'Mail the report to jane.doe@exa' },
  { type: 'text', text: 'mple.com before Friday, please.' },
]);

function check(side: Side, b: Record<string, unknown>, calls: number): () => void {
  return () => {
    for (let i = 0; i < calls; i++) {
      const input = side.adapter.guardInput(b);
      for (const g of side.guards) g.check(input, ctx);
    }
  };
}

function writeBack(side: Side, calls: number): () => void {
  return () => {
    for (let i = 0; i < calls; i++) {
      const input = side.adapter.guardInput(cut);
      const d = side.redact.check(input, ctx) as { action: string; messages?: unknown };
      if (d.action === 'modify') side.adapter.applyInput(cut, d.messages, undefined);
    }
  };
}

const cases: Record<string, { fn: () => void; calls: number }> = {};
for (const [name, { body: b, calls }] of Object.entries(bodies)) {
  cases[`guardInput + default input guards, ${name}`] = { fn: check(current, b, calls), calls };
  if (base !== undefined)
    cases[`[base] guardInput + default input guards, ${name}`] = { fn: check(base, b, calls), calls };
}
cases['piiGuard redact + applyInput, email cut across 2 parts'] = {
  fn: writeBack(current, 5000),
  calls: 5000,
};
if (base !== undefined)
  cases['[base] piiGuard redact + applyInput, email cut across 2 parts'] = {
    fn: writeBack(base, 5000),
    calls: 5000,
  };

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const c of Object.values(cases)) c.fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(cases).sort(() => Math.random() - 0.5);
  for (const name of order) {
    const c = cases[name]!;
    const t0 = process.cpuUsage();
    c.fn();
    const t = process.cpuUsage(t0);
    samples[name]!.push(((t.user + t.system) * 1000) / c.calls);
  }
}
for (const [name, s] of Object.entries(samples))
  console.log(`${name.padEnd(70)} ${median(s).toFixed(0).padStart(8)} ns/call`);
