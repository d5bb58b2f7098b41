import { describe, expect, it } from 'vitest';
import { nestedText, withNestedText } from '../src/instrumentation/nested-blocks.ts';

/**
 * The Anthropic blocks whose text sits in nested objects (nested-blocks.ts): what is read, the
 * write-back into the same places (the originals untouched), and linear time on a hostile
 * document of many text blocks.
 */

const fetched = (data: string) => ({
  type: 'web_fetch_tool_result',
  tool_use_id: 's1',
  content: {
    type: 'web_fetch_result',
    url: 'u',
    content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data } },
  },
});
const bash = (stdout: string, stderr: string) => ({
  type: 'bash_code_execution_tool_result',
  tool_use_id: 's2',
  content: { type: 'bash_code_execution_result', stdout, stderr, return_code: 0, content: [] },
});
const viewed = (content: string) => ({
  type: 'text_editor_code_execution_tool_result',
  tool_use_id: 's3',
  content: { type: 'text_editor_code_execution_view_result', content, file_type: 'text' },
});
const doc = (content: unknown) => ({ type: 'document', source: { type: 'content', content } });

describe('nested blocks', () => {
  const blocks = [
    fetched('page'),
    bash('out', ''),
    { type: 'server_tool_use', id: 's1', name: 'web_fetch', input: {} },
    viewed('file'),
    doc([
      { type: 'text', text: 'd1' },
      { type: 'image', source: {} },
      { type: 'text', text: '' },
    ]),
    doc('d2'),
    {
      type: 'web_fetch_tool_result',
      tool_use_id: 's4',
      content: { type: 'web_fetch_tool_error', error_code: 'x' },
    },
  ];

  it('reads each text in order, empty ones and non-text blocks left out', () => {
    expect(nestedText(blocks)).toBe('page\nout\nfile\nd1\nd2');
  });

  it('writes a replacement back into the same places, copies only, the originals untouched', () => {
    const before = JSON.stringify(blocks);
    expect(withNestedText(blocks, nestedText(blocks))).toBe(blocks);
    const out = withNestedText(blocks, 'PAGE\nOUT\nFILE\nD1\nD2');
    expect(JSON.stringify(blocks)).toBe(before);
    expect(out).toEqual([
      fetched('PAGE'),
      bash('OUT', ''),
      blocks[2],
      viewed('FILE'),
      doc([
        { type: 'text', text: 'D1' },
        { type: 'image', source: {} },
        { type: 'text', text: '' },
      ]),
      doc('D2'),
      blocks[6],
    ]);
    expect(out[2]).toBe(blocks[2]);
    expect(nestedText(out)).toBe('PAGE\nOUT\nFILE\nD1\nD2');
  });

  it('a rewrite with another line count stays in its own field', () => {
    const two = [bash('key:\nAAAA\nBBBB', 'warn: x'), fetched('page')];
    const out = withNestedText(two, 'key:\n[REDACTED]\nwarn: x\npage');
    expect(out).toEqual([bash('key:\n[REDACTED]', 'warn: x'), fetched('page')]);
  });

  // 4x the blocks: linear work takes ~4x, quadratic 16x. The bound sits between, with room for
  // a collection landing in the large run (6x failed once in a fresh-clone CI: 6.4x, 238 ms).
  it('linear: a document of 4x the text blocks rewritten in at most 10x the time', () => {
    const cpuMs = (fn: () => unknown): number => {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = process.threadCpuUsage();
        fn();
        const t = process.threadCpuUsage(t0);
        best = Math.min(best, (t.user + t.system) / 1000);
      }
      return best;
    };
    const run = (n: number) => {
      const d = [doc(Array.from({ length: n }, (_, i) => ({ type: 'text', text: `line ${i}` })))];
      const upper = nestedText(d).toUpperCase();
      return cpuMs(() => {
        const out = withNestedText(d, upper);
        expect(nestedText(out)).toBe(upper);
      });
    };
    const small = run(2 ** 14);
    const large = run(2 ** 16);
    expect(large).toBeLessThan(10 * Math.max(small, 5));
    expect(large).toBeLessThan(1000);
  });
});
