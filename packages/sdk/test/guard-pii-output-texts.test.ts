import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import OpenAI6 from 'openai-v6';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * The texts of a complete (non-streamed) answer besides its first choice, through the real
 * openai (7 and 6) and @anthropic-ai/sdk clients against the fake server
 * (src/instrumentation/output-texts.ts):
 *
 * - chat and legacy completions with n > 1: the guards' rewrite of all the choices went into
 *   choice 0 and the others were emptied; now each choice is redacted on its own, each equal
 *   to `redact` of its own text, with one pii_detected for the response;
 * - OpenAI chat annotations (url_citation title and URL) were never read: an address there
 *   reached the app in every mode;
 * - an Anthropic text block whose text the guard left alone kept its citations unread, quote
 *   and all.
 */

const EMAIL = 'jane.doe@example.com';
const CHOICES = [`Write to ${EMAIL} today.`, 'My card is 4111 1111 1111 1111 thanks', 'Hello there, friend.'];

/** A private key: its lines become one placeholder, so the joined rewrite has fewer lines. */
const PEM = [
  'Key:',
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumZfUNeHKENzmu2ek+Ql3qYCf',
  'AkEA0c7+9z5Pad7OejecsQ0bu3aumZfUNeHKENzmu2ek+Ql3qYCfAkEA0c7+9z5P',
  '-----END RSA PRIVATE KEY-----',
  'done',
].join('\n');
const LEGACY = [PEM, ...CHOICES];

/** The annotations a streamed chat answer carries. */
const STREAM_ANNOTATIONS = [
  {
    type: 'url_citation',
    url_citation: { start_index: 0, end_index: 5, title: `Contact ${EMAIL}`, url: 'https://example.org/' },
  },
];

/** What the fake answers: set per test. */
let chatChoices: Array<Record<string, unknown>> = [];
let anthropicContent: Array<Record<string, unknown>> = [];

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/v1/completions') && req.body.echo === true) {
    // echo: each choice's text is its prompt, then the completion.
    const prompts = typeof req.body.prompt === 'string' ? [req.body.prompt] : (req.body.prompt as string[]);
    return {
      kind: 'json',
      body: {
        id: 'cmpl-echo',
        object: 'text_completion',
        created: 1,
        model: 'gpt-3.5-turbo-instruct',
        choices: prompts.map((p, index) => ({
          index,
          text: `${p} Noted.`,
          logprobs: null,
          finish_reason: 'stop',
        })),
      },
    };
  }
  if (req.path.endsWith('/chat/completions') && req.body.stream === true) {
    // A web-search model's stream: the annotations in a chunk of their own.
    const chunk = (delta: unknown, finish: string | null = null) => ({
      data: {
        id: 'chatcmpl-s',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      },
    });
    return {
      kind: 'sse',
      events: [
        chunk({ role: 'assistant', content: 'See the team page.' }),
        chunk({ annotations: STREAM_ANNOTATIONS }),
        chunk({}, 'stop'),
        { data: '[DONE]' },
      ],
    };
  }
  if (req.path.endsWith('/chat/completions'))
    return {
      kind: 'json',
      body: {
        id: 'chatcmpl-n',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-mini',
        choices: chatChoices,
        usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 },
      },
    };
  if (req.path.endsWith('/v1/completions'))
    return {
      kind: 'json',
      body: {
        id: 'cmpl-n',
        object: 'text_completion',
        created: 1,
        model: 'gpt-3.5-turbo-instruct',
        choices: LEGACY.map((text, index) => ({ index, text, logprobs: null, finish_reason: 'stop' })),
      },
    };
  if (req.path === '/v1/messages')
    return {
      kind: 'json',
      body: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-haiku-4-5',
        content: anthropicContent,
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 5, output_tokens: 7 },
      },
    };
  return undefined;
}

const h = useInstrHarness({ script });

function choice(index: number, content: string, annotations?: unknown[]) {
  return {
    index,
    message: { role: 'assistant', content, refusal: null, ...(annotations ? { annotations } : {}) },
    logprobs: null,
    finish_reason: 'stop',
  };
}

function openaiClients(mode: 'redact' | 'block' = 'redact') {
  const options = { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] })] } };
  const opts = { apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 };
  return [
    ['openai 7', instrumentClient(new OpenAI(opts), options)],
    ['openai 6', instrumentClient(new OpenAI6(opts) as unknown as OpenAI, options)],
  ] as const;
}

function anthropic(mode: 'redact' | 'block' = 'redact') {
  return instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ mode, directions: ['output'] })] },
  });
}

const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');
const ask = [{ role: 'user' as const, content: 'hi' }];

describe('chat with n > 1, not streamed: each choice redacted on its own', () => {
  it('every choice equals redact of its own text; one pii_detected for the response', async () => {
    chatChoices = CHOICES.map((c, i) => choice(i, c));
    for (const [name, c] of openaiClients()) {
      h.recorded.length = 0;
      const r = await c.chat.completions.create({ model: 'gpt-4o-mini', n: 3, messages: ask });
      expect(
        r.choices.map((x) => x.message.content),
        name,
      ).toEqual(CHOICES.map((t) => redact(t).text));
      expect(piiEvents(), name).toHaveLength(1);
      expect(piiEvents()[0]!.metadata?.pii_types, name).toEqual(
        expect.arrayContaining(['email', 'credit_card']),
      );
    }
  });

  it('legacy completions: each choice equals redact of its own text, a private key in one too', async () => {
    for (const [name, c] of openaiClients()) {
      h.recorded.length = 0;
      const r = await c.completions.create({ model: 'gpt-3.5-turbo-instruct', n: 4, prompt: 'hi' });
      // Before: split back by lines, which the key's placeholder changed: all of it in choice 0.
      expect(
        r.choices.map((x) => x.text),
        name,
      ).toEqual(LEGACY.map((t) => redact(t).text));
      expect(piiEvents(), name).toHaveLength(1);
    }
  });

  it("a custom guard's modify goes back choice by choice, not all into choice 0", async () => {
    chatChoices = CHOICES.map((c, i) => choice(i, c));
    const upper: OutputGuard = {
      name: 'upper',
      layer: 'custom',
      checkResponse: (o) => ({ action: 'modify', text: o.text.toUpperCase() }),
    };
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [upper] },
    });
    const r = await c.chat.completions.create({ model: 'gpt-4o-mini', n: 3, messages: ask });
    expect(r.choices.map((x) => x.message.content)).toEqual(CHOICES.map((t) => t.toUpperCase()));
  });
});

describe('chat annotations, not streamed', () => {
  const annotations = [
    {
      type: 'url_citation',
      url_citation: {
        start_index: 0,
        end_index: 5,
        title: `Contact ${EMAIL}`,
        url: `https://example.org/people?mail=${EMAIL}`,
      },
    },
  ];

  it('redact: the title and URL are redacted as texts of their own; the clean answer is kept', async () => {
    chatChoices = [choice(0, 'See the team page.', annotations)];
    for (const [name, c] of openaiClients()) {
      h.recorded.length = 0;
      const r = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask });
      expect(JSON.stringify(r), name).not.toContain('jane.doe');
      expect(r.choices[0]!.message.content, name).toBe('See the team page.');
      expect(r.choices[0]!.message.annotations?.[0]?.url_citation, name).toEqual({
        start_index: 0,
        end_index: 5,
        title: redact(`Contact ${EMAIL}`).text,
        url: redact(`https://example.org/people?mail=${EMAIL}`).text,
      });
      expect(piiEvents(), name).toHaveLength(1);
    }
  });

  it("streamed, redact: a chunk's annotations are redacted before the reader gets them", async () => {
    for (const [name, c] of openaiClients()) {
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: ask });
      const chunks = [];
      for await (const x of s) chunks.push(x);
      expect(JSON.stringify(chunks), name).not.toContain('jane.doe');
      expect(JSON.stringify(chunks), name).toContain(JSON.stringify(redact(`Contact ${EMAIL}`).text));
    }
  });

  it('block: an address in an annotation blocks the response', async () => {
    chatChoices = [choice(0, 'See the team page.', annotations)];
    for (const [name, c] of openaiClients('block')) {
      await expect(
        c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask }),
        name,
      ).rejects.toBeInstanceOf(OutputBlockedError);
    }
  });
});

describe('Anthropic citations of a block whose text the guard left alone, not streamed', () => {
  const CITATION = {
    type: 'char_location',
    cited_text: `Owner: Jane Roe, ${EMAIL}`,
    document_index: 0,
    document_title: 'Team page',
    start_char_index: 0,
    end_char_index: 37,
  };

  it('redact: the quote is redacted, the block keeps its text and its citation', async () => {
    anthropicContent = [
      { type: 'text', text: 'According to the page, ' },
      { type: 'text', text: 'the owner is Jane', citations: [CITATION] },
      { type: 'text', text: '.' },
    ];
    const m = await anthropic().messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: ask });
    expect(JSON.stringify(m)).not.toContain('jane.doe');
    expect(m.content[1]).toEqual({
      type: 'text',
      text: 'the owner is Jane',
      citations: [{ ...CITATION, cited_text: 'Owner: Jane Roe, [REDACTED:email]' }],
    });
    expect(piiEvents()).toHaveLength(1);
  });

  it('block: an address in a quote blocks the response', async () => {
    anthropicContent = [{ type: 'text', text: 'the owner is Jane', citations: [CITATION] }];
    await expect(
      anthropic('block').messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: ask }),
    ).rejects.toBeInstanceOf(OutputBlockedError);
  });
});

describe('legacy completions with echo: the echoed prompt is not read as output', () => {
  const prompt = `Remember ${EMAIL} for me.`;

  it("detect on both sides: one pii_detected, the input's (before: the output's too)", async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { input: [piiGuard({ mode: 'detect' })], output: [piiGuard({ mode: 'detect' })] },
    });
    const r = await c.completions.create({ model: 'gpt-3.5-turbo-instruct', echo: true, prompt });
    expect(r.choices[0]!.text).toBe(`${prompt} Noted.`);
    expect(piiEvents().map((e) => e.metadata?.direction)).toEqual(['input']);
  });

  it("block on the output side: the echo of the user's own prompt is not blocked as the response", async () => {
    for (const [name, c] of openaiClients('block')) {
      const r = await c.completions.create({
        model: 'gpt-3.5-turbo-instruct',
        echo: true,
        prompt: [prompt, 'hi'],
      });
      expect(
        r.choices.map((x) => x.text),
        name,
      ).toEqual([`${prompt} Noted.`, 'hi Noted.']);
    }
  });
});

describe('hostile answers: many choices and annotations', () => {
  it('4,000 choices of an address each, an annotation each: every one redacted, in linear time', async () => {
    const n = 4000;
    const annotation = (i: number) => [
      {
        type: 'url_citation',
        url_citation: { start_index: 0, end_index: 1, title: `t${i} ${EMAIL}`, url: 'https://x.org' },
      },
    ];
    chatChoices = Array.from({ length: n }, (_, i) => choice(i, `${i}: mail ${EMAIL} now`, annotation(i)));
    const [[, c]] = openaiClients();
    // The process's CPU time (the fake server included), not wall time: a linearity bound must
    // not measure the host's load.
    const t0 = process.cpuUsage();
    const r = await c.chat.completions.create({ model: 'gpt-4o-mini', n: 128, messages: ask });
    const cpu = process.cpuUsage(t0);
    const ms = (cpu.user + cpu.system) / 1000;
    expect(r.choices).toHaveLength(n);
    expect(JSON.stringify(r)).not.toContain('jane.doe');
    expect(r.choices[n - 1]!.message.content).toBe(`${n - 1}: mail [REDACTED:email] now`);
    // Generous: 0.6 s of wall time here (the fake server and the client parsing included).
    expect(ms).toBeLessThan(10_000);
  });
});
