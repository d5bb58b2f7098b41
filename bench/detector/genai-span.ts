// GenAI span mapping benchmark (`npm run bench:detector:genai [-- --quick]`): what reading the
// prompt messages for new_input_length / turn_index adds to genAiSpanToEvent. Spans of a
// 20-message chat (system prompt, 10 user and 9 assistant turns of ~200 chars) in each
// convention, against a baseline measured in the same run: the same span without the role
// attributes (Traceloop / OpenInference: content only) or with `input.value` in place of
// `gen_ai.input.messages` (semconv), which maps as before this change (prompt_length only).
// Spans per CPU-second of this thread, median of per-round ratios (the load moves between rounds).
import { cpus, loadavg } from 'node:os';
import { genAiSpanToEvent } from '../../packages/detector/src/service/genai-span.ts';
import {
  DEFAULT_SESSION_ATTRIBUTES,
  DEFAULT_USER_ATTRIBUTES,
} from '../../packages/detector/src/service/genai-attributes.ts';
import type { SpanInput } from '../../packages/detector/src/service/inputs.ts';
import { fmt, median, table } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const SPANS = QUICK ? 20_000 : 100_000;
const ROUNDS = QUICK ? 5 : 11;
const OPTS = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };

const messages = [{ role: 'system', content: 'You are a support assistant. '.repeat(7) }];
for (let i = 0; i < 19; i++)
  messages.push({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `turn ${i} `.padEnd(200, 'lorem ipsum '),
  });

function span(attributes: Record<string, unknown>): SpanInput {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'chat',
    startMs: 1_764_842_400_000,
    endMs: 1_764_842_400_900,
    attributes: { 'user.id': 'u1', 'session.id': 's1', 'gen_ai.request.model': 'gpt-4o', ...attributes },
    events: [],
    status: { code: 0 },
    resource: { 'service.name': 'bench' },
    scope: 'bench',
  };
}

function indexed(prefix: string, role: string, content: string, withRoles: boolean): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  messages.forEach((m, i) => {
    if (withRoles) a[`${prefix}${i}${role}`] = m.role;
    a[`${prefix}${i}${content}`] = m.content;
  });
  return a;
}
const semconvJson = JSON.stringify(
  messages.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] })),
);

const cases: Array<{ name: string; base: SpanInput; with: SpanInput }> = [
  {
    name: 'Traceloop gen_ai.prompt.N.*',
    base: span({ 'llm.request.type': 'chat', ...indexed('gen_ai.prompt.', '.role', '.content', false) }),
    with: span({ 'llm.request.type': 'chat', ...indexed('gen_ai.prompt.', '.role', '.content', true) }),
  },
  {
    name: 'OpenInference llm.input_messages.N.*',
    base: span({
      'openinference.span.kind': 'LLM',
      ...indexed('llm.input_messages.', '.message.role', '.message.content', false),
    }),
    with: span({
      'openinference.span.kind': 'LLM',
      ...indexed('llm.input_messages.', '.message.role', '.message.content', true),
    }),
  },
  {
    name: 'semconv gen_ai.input.messages',
    base: span({ 'gen_ai.operation.name': 'chat', 'input.value': semconvJson }),
    with: span({ 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': semconvJson }),
  },
];

function threadCpu(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
}

let sink = 0;
function rate(s: SpanInput): number {
  const c0 = threadCpu();
  for (let i = 0; i < SPANS; i++) {
    const r = genAiSpanToEvent(s, OPTS);
    if (r.kind === 'event') {
      const n = r.event.metadata?.new_input_length;
      sink += typeof n === 'number' ? n : 1;
    }
  }
  return SPANS / (threadCpu() - c0);
}

const load0 = loadavg();
console.log(
  `GenAI span mapping bench: ${fmt(SPANS)} spans per cell, ${messages.length} messages per span, ${ROUNDS} rounds ` +
    `(baseline and new alternating); ${cpus().length} CPUs, load average ${load0.map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`,
);
const rows: (string | number)[][] = [];
for (const c of cases) {
  rate(c.base);
  rate(c.with); // warm-up
  const bases: number[] = [];
  const news: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = rate(c.base);
    const n = rate(c.with);
    bases.push(b);
    news.push(n);
    ratios.push(n / b);
  }
  rows.push([c.name, fmt(median(bases)), fmt(median(news)), median(ratios).toFixed(2)]);
}
table(['convention', 'baseline spans/CPU-s', 'with new input spans/CPU-s', 'ratio'], rows);
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (checksum ${sink % 997})`,
);
