/**
 * The default token estimate on request bodies an attacker writes (the middleware runs it on
 * every request, before the limiter): it must take time linear in the text, and no text or shape
 * may turn the estimate into 0 (a throw inside it is caught by the guard and reserves nothing,
 * so a body that makes it throw escapes the token and cost reservation, `estimate_exceeds_limit`
 * included).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore, RateLimiter, createRateLimitMiddleware, estimateRequestBody } from '../src/index.ts';
import { loadEncoding } from '../src/estimate/tokenizer.ts';
import { estimateChatTokens, estimateTokens, TOKENIZE_MAX_CHARS } from '../src/estimate/tokens.ts';
import { drawn } from './drawn-text.ts';
import { close, fetchRaw, listen } from './http-support.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  server = undefined;
});

/** CPU time of this thread (ms): not the time the thread was descheduled on a loaded machine. */
function cpuMs(fn: () => unknown): number {
  const t0 = process.threadCpuUsage();
  fn();
  const t = process.threadCpuUsage(t0);
  return (t.user + t.system) / 1000;
}

/** Below this, timer and JIT noise dominate (as in test/worst-case.test.ts). */
const FLOOR_MS = 25;

/**
 * Pseudo-random letters (xorshift32): one pre-token the BPE must merge, and no repeated piece
 * (the tokenizer caches merged pieces by their text, so a periodic text would hide the cost).
 */
function letters(n: number, seed: number): string {
  let x = (seed * 2654435761) >>> 0 || 1;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x ^= x >>> 17;
    x = (x ^ (x << 5)) >>> 0;
    s += String.fromCharCode(97 + (x % 26));
  }
  return s;
}

const SHAPES: Record<string, (n: number, seed: number) => string> = {
  'one word of random letters': letters,
  'one letter repeated': (n, seed) => String.fromCharCode(97 + (seed % 26)).repeat(n),
  'spaces then a letter': (n, seed) => ' '.repeat(n - 1) + String.fromCharCode(97 + (seed % 26)),
};

describe('estimateTokens on hostile text', () => {
  estimateTokens('warm up the encoding', 'gpt-4o');

  for (const [name, make] of Object.entries(SHAPES)) {
    it(`linear time: ${name}, 16,000 vs 64,000 characters`, () => {
      // Fresh strings per run: the tokenizer caches merged pre-tokens by their text.
      const time = (n: number, seed: number): number => cpuMs(() => estimateTokens(make(n, seed), 'gpt-4o'));
      let small = time(16_000, 1);
      let large = time(TOKENIZE_MAX_CHARS, 2);
      for (let retry = 0; retry < 4 && Math.max(large, FLOOR_MS) / Math.max(small, FLOOR_MS) >= 6; retry++) {
        small = Math.min(small, time(16_000, 3 + retry));
        large = Math.min(large, time(TOKENIZE_MAX_CHARS, 7 + retry));
      }
      const detail = `16,000: ${small.toFixed(1)} ms, 64,000: ${large.toFixed(1)} ms`;
      // Linear is 4; the whole-word BPE took 104 vs 1,222 ms for random letters (x12), in
      // pieces 31 vs 84 ms.
      expect(Math.max(large, FLOOR_MS) / Math.max(small, FLOOR_MS), detail).toBeLessThan(6);
      expect(large, detail).toBeLessThan(500);
    });
  }

  it('prose is counted exactly across the pieces it is tokenized in', () => {
    const sentence = 'The quick brown fox jumps over the lazy dog, then naps  twice.\n';
    const text = sentence.repeat(Math.floor(TOKENIZE_MAX_CHARS / sentence.length));
    const whole = loadEncoding('o200k_base')!.countTokens(text);
    expect(estimateTokens(text, 'gpt-4o')).toBe(whole);
    // and with the cut points falling anywhere in the sentence
    for (let shift = 1; shift < 40; shift += 7)
      expect(estimateTokens(text.slice(shift), 'gpt-4o')).toBe(
        loadEncoding('o200k_base')!.countTokens(text.slice(shift)),
      );
  });

  it('a long word is still counted as tokens, not characters / 4 nor 0', () => {
    const word = letters(50_000, 0);
    const tokens = estimateTokens(word, 'gpt-4o');
    // Random letters are 2-4 characters a token.
    expect(tokens).toBeGreaterThan(50_000 / 5);
    expect(tokens).toBeLessThan(50_000 / 1.5);
  });

  it('special-token text in a prompt is counted as the text it is', () => {
    for (const special of ['<|endoftext|>', '<|im_start|>', '<|fim_prefix|>', '<|endofprompt|>']) {
      for (const model of ['gpt-4o', 'gpt-4', 'text-davinci-003']) {
        const text = `ignore that ${special} and count me`;
        expect(estimateTokens(text, model), `${special} ${model}`).toBeGreaterThan(6);
      }
    }
  });
});

describe('estimateRequestBody on hostile shapes', () => {
  const words = 'word '.repeat(4_000);

  it('content nested 20,000 tool results deep is counted, not thrown on', () => {
    // Built as JSON text: JSON.parse takes any depth (Express's body parser uses it).
    const depth = 20_000;
    const json =
      '{"model":"gpt-4o","messages":[{"role":"user","content":' +
      '[{"type":"tool_result","content":'.repeat(depth) +
      `[{"type":"text","text":"${words}"}]` +
      '}]'.repeat(depth) +
      '}]}';
    const estimate = estimateRequestBody(JSON.parse(json));
    expect(estimate.inputTokens).toBeGreaterThanOrEqual(4_000);
  });

  it('a tool input too deep for JSON.stringify is counted by its strings', () => {
    let input: unknown = { text: words };
    for (let i = 0; i < 50_000; i++) input = [input];
    const estimate = estimateRequestBody({
      model: 'claude-sonnet-4',
      messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'n', input }] }],
    });
    expect(estimate.inputTokens).toBeGreaterThanOrEqual(words.length / 4);
  });
});

describe('the middleware reserves what such a body costs', () => {
  async function app(limiter: RateLimiter): Promise<number> {
    const a = express();
    a.use(express.json({ limit: '2mb' }));
    a.use(createRateLimitMiddleware({ limiter, secondarySubject: () => undefined }));
    a.post('/v1/chat', (_req, res) => res.json({ ok: true }));
    server = createServer(a);
    return await listen(server);
  }

  const limiter = (): RateLimiter =>
    new RateLimiter({
      store: new MemoryStore(),
      tiers: { free: { tokensPerMinute: 5_000 } },
      enforcement: false,
    });

  const prompt = 'word '.repeat(8_000); // 8,000 tokens: over the 5,000 a minute on its own

  it('a prompt over the limit is refused up front with special-token text in it', async () => {
    const port = await app(limiter());
    for (const content of [prompt, `${prompt}<|endoftext|>`]) {
      const res = await fetchRaw(port, {
        method: 'POST',
        path: '/v1/chat',
        headers: { 'x-user-id': 'mallory' },
        body: { model: 'gpt-4o', messages: [{ role: 'user', content }] },
      });
      expect(res.status, content.slice(-20)).toBe(429);
      expect(JSON.parse(res.body).error.reason).toBe('estimate_exceeds_limit');
    }
  });

  it('a prompt over the limit is refused up front inside deeply nested tool results', async () => {
    const port = await app(limiter());
    const depth = 20_000;
    const body =
      '{"model":"gpt-4o","messages":[{"role":"user","content":' +
      '[{"content":'.repeat(depth) +
      `"${prompt}"` +
      '}]'.repeat(depth) +
      '}]}';
    // Sent as text: JSON.stringify cannot write this depth (fetchRaw stringifies).
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat`, {
      method: 'POST',
      headers: { 'x-user-id': 'mallory', 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('estimate_exceeds_limit');
  });
});

describe('an application value whose array length is not its contents', () => {
  it('content past 32 levels holding new Array(2 ** 32 - 1) is counted, not thrown on', () => {
    // Each index was pushed onto the walk's stack: RangeError (Invalid array length), and the
    // estimate of the whole request was lost (the guard reserves 0 on a throw).
    let content: unknown = [{ type: 'tool_result', content: new Array(2 ** 32 - 1) }];
    for (let i = 0; i < 40; i++) content = [{ type: 'tool_result', content }];
    let tokens = 0;
    const ms = cpuMs(() => (tokens = estimateChatTokens([{ role: 'user', content }], 'gpt-4o')));
    // one separator a slot, at characters / 4
    expect(tokens).toBeGreaterThan((2 ** 32 - 1) / 4);
    expect(ms).toBeLessThan(2_000);
  });
});

describe('one request tokenizes at most TOKENIZE_MAX_CHARS in all', () => {
  const body = (seed: number, texts: number) => ({
    model: 'gpt-4o',
    messages: Array.from({ length: texts }, (_, i) => ({
      role: 'user',
      content: letters(TOKENIZE_MAX_CHARS, seed + i),
    })),
  });

  it('a 1 MiB body of 16 texts takes about what one text takes, not 16 times it', () => {
    estimateRequestBody(body(100, 1));
    // Best of 3 pairs, bound 8x: uncapped is 16x; one pair read 4.07x for a 4x bound in a
    // fresh-clone CI (a collection or a neighbour in one run).
    let ratio = Infinity;
    let detail = '';
    for (let r = 0; r < 3 && ratio >= 4; r++) {
      const one = cpuMs(() => estimateRequestBody(body(200 + r, 1)));
      const sixteen = cpuMs(() => estimateRequestBody(body(300 + 16 * r, 16)));
      const pair = Math.max(sixteen, FLOOR_MS) / Math.max(one, FLOOR_MS);
      if (pair < ratio) ratio = pair;
      detail += `one text ${one.toFixed(1)} ms, sixteen ${sixteen.toFixed(1)} ms; `;
    }
    // Tokenizing every text took 1.1-1.3 s for the sixteen (each within the per-text cap).
    expect(ratio, detail).toBeLessThan(8);
  });

  it('the rest is extrapolated at the ratio measured on a sample', () => {
    const exact = 16 * estimateTokens(letters(TOKENIZE_MAX_CHARS, 400), 'gpt-4o');
    const estimate = estimateRequestBody(body(400, 16)).inputTokens;
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.02);
    // Many short texts past the budget count too (not 0 each).
    const short = {
      model: 'gpt-4o',
      messages: Array.from({ length: 20_000 }, () => ({ role: 'user', content: 'hello there friend' })),
    };
    const perMessage = 3 + 1 + 3; // framing, 'user', three words
    expect(estimateRequestBody(short).inputTokens).toBeGreaterThanOrEqual(20_000 * perMessage * 0.9);
  });
});

/** Exact tokens of `text` on o200k (in 4,000-character slices: the whole would be quadratic). */
function exactTokens(text: string): number {
  const encoding = loadEncoding('o200k_base')!;
  let total = 0;
  for (let i = 0; i < text.length; i += 4_000)
    total += encoding.countTokens(text.slice(i, i + 4_000), { disallowedSpecial: new Set() });
  return total;
}

describe('the sample past TOKENIZE_MAX_CHARS cannot be placed by the client', () => {
  // 1.9 tokens a character on o200k (rare CJK ideographs), 0.68 (base64): the client's dense
  // text; a run of spaces is 0.008.
  const cjk = Array.from({ length: 3_000 }, (_, i) => String.fromCharCode(0x4e00 + i * 7)).join('');
  const base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const cheap = ' '.repeat(TOKENIZE_MAX_CHARS);

  for (const [name, alphabet] of [
    ['CJK', cjk],
    ['base64', base64],
  ] as const) {
    it(`64,000 spaces then 200,000 characters of dense ${name}: not reserved as if all were spaces`, () => {
      const dense = drawn(200_000, 5, alphabet);
      const exact = exactTokens(cheap) + exactTokens(dense);
      // Apart (a message each) and together (one text): the first 64,000 measured the ratio
      // for the rest, so both estimated 1/50 to 1/230 of the tokens.
      const apart = estimateRequestBody({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: cheap },
          { role: 'user', content: dense },
        ],
      }).inputTokens;
      const together = estimateTokens(cheap + dense, 'gpt-4o');
      const detail = `exact ${exact}, apart ${apart}, together ${together}`;
      expect(apart, detail).toBeGreaterThan(exact * 0.75);
      expect(together, detail).toBeGreaterThan(exact * 0.75);
      // and not an over-reservation either: the sample measures the mix
      expect(apart, detail).toBeLessThan(exact * 1.25);
      expect(together, detail).toBeLessThan(exact * 1.25);
    });
  }

  it('dense text first and a cheap rest is not over-reserved as if all were dense', () => {
    const dense = drawn(TOKENIZE_MAX_CHARS, 6, base64);
    const rest = ' '.repeat(400_000);
    const exact = exactTokens(dense) + exactTokens(rest);
    const estimate = estimateTokens(dense + rest, 'gpt-4o');
    expect(estimate, `exact ${exact}, estimate ${estimate}`).toBeLessThan(exact * 1.5);
    expect(estimate, `exact ${exact}, estimate ${estimate}`).toBeGreaterThan(exact * 0.5);
  });

  // An independent draw per piece left the dense part 17 of ~125 draws give or take 4: about 3%
  // of estimates fell outside 0.5-1.5x (one failed CI), 37% outside 0.8-1.2x. Stratified, the
  // dense stretch holds its share of the draws, give or take the stratum it ends in (~6%).
  it('dense text first: every one of 60 estimates within 0.8-1.2x, not only most', () => {
    const dense = drawn(TOKENIZE_MAX_CHARS, 7, base64);
    const rest = ' '.repeat(400_000);
    const exact = exactTokens(dense) + exactTokens(rest);
    const ratios = Array.from({ length: 60 }, () => estimateTokens(dense + rest, 'gpt-4o') / exact);
    const outside = ratios.filter((r) => r < 0.8 || r > 1.2);
    expect(outside, `ratios ${ratios.map((r) => r.toFixed(3)).join(' ')}`).toEqual([]);
  });

  it('dense pieces the client spreads at any period: unbiased on average', () => {
    // One dense 512-character piece in every `period`, spaces between (a space run is cut at
    // 512 too): the draws cannot be dodged by placing the dense text between them.
    // The sample's draws come from a seeded Math.random: one estimate's spread at periods 7 and 8
    // is ~0.21 of the tokens, so an average of 40 fell outside 0.92-1.08 in ~2% of runs per
    // period (2 of 100 at period 7): a flake. Seeded, the same 40 draws every run.
    let x = 0x2545f491;
    const random = vi.spyOn(Math, 'random').mockImplementation(() => {
      x = (x ^ (x << 13)) >>> 0;
      x ^= x >>> 17;
      x = (x ^ (x << 5)) >>> 0;
      return x / 2 ** 32;
    });
    try {
      for (const period of [2, 7, 8]) {
        let text = '';
        for (let i = 0; i < 1_000; i++)
          text += i % period === 0 ? drawn(512, i + 11, base64) : ' '.repeat(512);
        const exact = exactTokens(text);
        let sum = 0;
        for (let i = 0; i < 40; i++) sum += estimateTokens(text, 'gpt-4o');
        expect(sum / 40 / exact, `period ${period}`).toBeGreaterThan(0.92);
        expect(sum / 40 / exact, `period ${period}`).toBeLessThan(1.08);
      }
      expect(random).toHaveBeenCalled();
    } finally {
      random.mockRestore();
    }
  });
});

describe('a long model id', () => {
  // The encoding was looked up from the model id for every text (role, name, content): a
  // model id of half the body times the messages in the other half, quadratic in the body.
  const body = (bytes: number) => ({
    model: `gpt-4o-${'x'.repeat(bytes / 2)}`,
    messages: Array.from({ length: Math.floor(bytes / 48) }, () => ({ role: 'u', content: 'x' })),
  });

  it('linear time: 128 KiB vs 512 KiB bodies, half of each the model id', () => {
    estimateRequestBody(body(1024));
    let small = cpuMs(() => estimateRequestBody(body(128 * 1024)));
    let large = cpuMs(() => estimateRequestBody(body(512 * 1024)));
    // Re-measured only near the bound (load, GC), not when far past it.
    const ratio = (): number => Math.max(large, FLOOR_MS) / Math.max(small, FLOOR_MS);
    for (let retry = 0; retry < 4 && ratio() >= 6 && ratio() < 12; retry++) {
      small = Math.min(
        small,
        cpuMs(() => estimateRequestBody(body(128 * 1024))),
      );
      large = Math.min(
        large,
        cpuMs(() => estimateRequestBody(body(512 * 1024))),
      );
    }
    const detail = `128 KiB: ${small.toFixed(1)} ms, 512 KiB: ${large.toFixed(1)} ms`;
    // Before: 160-172 vs 5,706-5,892 ms (x34-36).
    expect(ratio(), detail).toBeLessThan(6);
    expect(large, detail).toBeLessThan(500);
  });

  it('still tokenizes for the OpenAI model it names', () => {
    const estimate = estimateRequestBody({
      model: `gpt-4o-${'x'.repeat(1000)}`,
      messages: [{ role: 'user', content: 'Hello, world!' }],
    });
    expect(estimate.inputTokens).toBe(3 + 3 + 1 + 4);
  });
});

describe('an application value that shares or cycles', () => {
  it('an array holding itself twice, a tool result holding its own list twice: walked once each', () => {
    // Walked again at each reference down to MAX_CONTENT_DEPTH, each was 2^32 visits: the
    // estimate never returned and held the host's event loop. Run in a child (a hang here
    // cannot be interrupted in this process), killed after 20 s.
    const source = new URL('../src/estimate/request.ts', import.meta.url).href;
    const script = `
      import { estimateRequestBody } from ${JSON.stringify(source)};
      const ids = []; ids.push(ids, ids, 7, 8);
      const results = []; const result = { type: 'tool_result', tool_use_id: 't', content: results };
      results.push(result, result, { type: 'text', text: 'word '.repeat(4000) });
      const body = { model: 'claude-sonnet-4', prompt: ids, messages: [{ role: 'user', content: results }] };
      process.stdout.write(String(estimateRequestBody(body).inputTokens));`;
    const child = spawnSync(
      process.execPath,
      ['--conditions=@llmsec/source', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(child.error, child.stderr).toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    // The text (20,000 characters / 4) and the two ids, each once.
    expect(Number(child.stdout)).toBeGreaterThanOrEqual(5_002);
  }, 30_000);
});
