import { describe, expect, it } from 'vitest';
import { DEFAULT_RESERVED_OUTPUT_TOKENS, estimateRequestBody } from '../src/estimate/request.ts';
import { encodingForModel } from '../src/estimate/tokenizer.ts';
import {
  charsPerTokenEstimate,
  estimateChatTokens,
  estimateTokens,
  TOKENIZE_MAX_CHARS,
  TOKENS_PER_NON_TEXT_PART,
} from '../src/estimate/tokens.ts';

// Reference counts from OpenAI's encodings (o200k_base for gpt-4o and later, cl100k_base for
// gpt-4 / gpt-3.5); the Cyrillic and Japanese strings tokenize differently in the two.
const RU = 'Привет, как дела? Это тест.';
const JA = '日本語のテキストです。';

describe('estimateTokens', () => {
  it('uses the real tokenizer for OpenAI-style models', () => {
    expect(estimateTokens('The quick brown fox jumps over the lazy dog.', 'gpt-4o')).toBe(10);
    expect(estimateTokens('Hello, world!', 'gpt-4o-mini-2024-07-18')).toBe(4);
  });

  it('picks the encoding per model: o200k for gpt-4o/o-series, cl100k for gpt-4 and gpt-3.5', () => {
    expect(estimateTokens(RU, 'gpt-4o')).toBe(9);
    expect(estimateTokens(RU, 'o3-mini')).toBe(9);
    expect(estimateTokens(RU, 'gpt-4')).toBe(13);
    expect(estimateTokens(RU, 'gpt-4-0613')).toBe(13);
    expect(estimateTokens(JA, 'gpt-3.5-turbo')).toBe(10);
    expect(estimateTokens(JA, 'gpt-4.1')).toBe(8);
    expect(encodingForModel('openai/gpt-4-turbo-2024-04-09')).toBe('cl100k_base');
    expect(encodingForModel('text-embedding-3-small')).toBe('cl100k_base');
    expect(encodingForModel('gpt-5-mini')).toBe('o200k_base');
  });

  it('an absent model uses o200k_base (the encoding of current OpenAI models)', () => {
    expect(estimateTokens(RU)).toBe(9);
  });

  it('falls back to characters / 4 for non-OpenAI and unknown models', () => {
    expect(encodingForModel('claude-sonnet-4-20250514')).toBeUndefined();
    expect(encodingForModel('llama-3.1-70b')).toBeUndefined();
    expect(estimateTokens(RU, 'claude-sonnet-4')).toBe(Math.ceil(RU.length / 4));
    expect(estimateTokens('abcdefghi', 'some-unknown-model')).toBe(3);
    expect(charsPerTokenEstimate('')).toBe(0);
    expect(charsPerTokenEstimate('abcd')).toBe(1);
    expect(charsPerTokenEstimate('abcde')).toBe(2);
  });

  it('empty text is 0 tokens', () => {
    expect(estimateTokens('', 'gpt-4o')).toBe(0);
  });

  it('long text is tokenized up to the cap and extrapolated, close to the exact count', () => {
    const sentence = 'The quick brown fox jumps over the lazy dog. ';
    const text = sentence.repeat(Math.ceil((TOKENIZE_MAX_CHARS * 3) / sentence.length));
    const estimate = estimateTokens(text, 'gpt-4o');
    const exact = 10 * Math.ceil((TOKENIZE_MAX_CHARS * 3) / sentence.length);
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.01);
  });
});

describe('estimateChatTokens', () => {
  it('adds the per-message, name and reply-primer overhead to the text tokens', () => {
    const messages = [
      { role: 'system', content: 'Hello, world!' },
      { role: 'user', name: 'bob', content: 'The quick brown fox jumps over the lazy dog.' },
    ];
    // primer 3 + (3 + system 1 + 4) + (3 + user 1 + name 1 + 'bob' 1 + 10)
    expect(estimateChatTokens(messages, 'gpt-4o')).toBe(3 + 8 + 16);
  });

  it('counts text parts, nested tool results, and a fixed figure for non-text parts', () => {
    const messages = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hello, world!' },
          { type: 'image_url', image_url: { url: 'data:...' } },
          { type: 'tool_result', content: [{ type: 'text', text: 'Hello, world!' }] },
        ],
      },
    ];
    expect(estimateChatTokens(messages, 'gpt-4o')).toBe(3 + 3 + 1 + 4 + TOKENS_PER_NON_TEXT_PART + 4);
  });

  it('an empty conversation is just the reply primer', () => {
    expect(estimateChatTokens([])).toBe(3);
  });
});

describe('estimateRequestBody', () => {
  it('OpenAI chat: messages in, max_completion_tokens out, cost from the price table', () => {
    const e = estimateRequestBody({
      model: 'gpt-4o',
      max_completion_tokens: 500,
      messages: [{ role: 'user', content: 'Hello, world!' }],
    });
    expect(e).toEqual({
      model: 'gpt-4o',
      inputTokens: 3 + 3 + 1 + 4,
      outputTokens: 500,
      totalTokens: 511,
      costMicroUsd: Math.ceil(11 * 2.5 + 500 * 10),
    });
  });

  it('no maximum → the default reserve; embeddings reserve no output', () => {
    expect(estimateRequestBody({ model: 'gpt-4o', input: 'Hello, world!' }).outputTokens).toBe(
      DEFAULT_RESERVED_OUTPUT_TOKENS,
    );
    expect(
      estimateRequestBody({ model: 'gpt-4o', input: 'x' }, { defaultOutputTokens: 10 }).outputTokens,
    ).toBe(10);
    const emb = estimateRequestBody({
      model: 'text-embedding-3-small',
      input: ['Hello, world!', 'Hello, world!'],
    });
    expect(emb).toMatchObject({ inputTokens: 8, outputTokens: 0, totalTokens: 8, costMicroUsd: 1 });
  });

  it('unknown model: tokens by chars/4, no cost', () => {
    const e = estimateRequestBody({ model: 'mystery-1', prompt: 'abcdefgh', max_tokens: 2 });
    expect(e).toEqual({ model: 'mystery-1', inputTokens: 2, outputTokens: 2, totalTokens: 4 });
  });

  it('no body or a non-object body reserves nothing', () => {
    expect(estimateRequestBody(undefined)).toEqual({ inputTokens: 0, outputTokens: 0, totalTokens: 0 });
    expect(estimateRequestBody([1, 2])).toEqual({ inputTokens: 0, outputTokens: 0, totalTokens: 0 });
  });
});
