import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textOf } from '../src/instrumentation/adapter.ts';
import { messageText, withMessageText } from '../src/instrumentation/message-text.ts';

/**
 * message-text.ts: the text the input guards read from a raw message (tool results included)
 * and the rewrite of a guard's replacement into the same structure.
 */

const toolResult = (content: unknown) => ({
  role: 'user',
  content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content }],
});

describe('messageText', () => {
  it('reads text parts, tool_result content (string or blocks), Responses output (string or parts)', () => {
    expect(messageText({ role: 'user', content: 'hi' })).toBe('hi');
    // Text parts side by side are read back to back, as the model reads them.
    expect(
      messageText({
        role: 'tool',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      }),
    ).toBe('ab');
    // Across anything else (a tool result, a document, an image): '\n'.
    expect(
      messageText({
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 't',
            content: [
              { type: 'text', text: 'r1' },
              { type: 'text', text: 'r2' },
            ],
          },
          { type: 'text', text: 'u1' },
          { type: 'text', text: 'u2' },
          { type: 'document', source: { type: 'text', data: 'd' } },
          { type: 'text', text: 'u3' },
        ],
      }),
    ).toBe('r1r2\nu1u2\nd\nu3');
    expect(messageText(toolResult('page'))).toBe('page');
    expect(
      messageText(
        toolResult([
          { type: 'text', text: 'x' },
          { type: 'image', source: { data: 'AAAA' } },
          { type: 'text', text: 'y' },
        ]),
      ),
    ).toBe('x\ny');
    expect(messageText({ type: 'function_call_output', call_id: 'c', output: 'out' })).toBe('out');
    expect(
      messageText({
        type: 'function_call_output',
        output: [
          { type: 'input_text', text: 'o1' },
          { type: 'input_image', image_url: 'u' },
        ],
      }),
    ).toBe('o1');
    // A computer_call_output's output is a screenshot object: no text.
    expect(
      messageText({ type: 'computer_call_output', output: { type: 'computer_screenshot', image_url: 'u' } }),
    ).toBe('');
    expect(messageText({ role: 'assistant', content: null, tool_calls: [] })).toBe('');
    expect(messageText('not an object')).toBe('');
  });

  it('is what textOf read for content without tool results, with text parts side by side read back to back', () => {
    const part = fc.oneof(
      fc.record({ type: fc.constant('text'), text: fc.string({ minLength: 1 }) }),
      fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.string() }) }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(part, { maxLength: 6 })), (content) => {
        // textOf joins every text part with '\n': the runs of text parts between images, each
        // run's parts joined with '', are what messageText reads.
        const runs =
          typeof content === 'string'
            ? [content]
            : content
                .map((p) => ('text' in p ? p.text : '\u0000'))
                .join('')
                .split('\u0000')
                .filter((r) => r.length > 0);
        fc.pre(typeof content === 'string' || !content.some((p) => 'text' in p && p.text.includes('\u0000')));
        expect(messageText({ role: 'user', content })).toBe(
          textOf(runs.map((text) => ({ type: 'text', text }))),
        );
      }),
    );
  });
});

describe('withMessageText', () => {
  it('returns the message itself when the text is unchanged, a copy otherwise (never mutates)', () => {
    const m = toolResult([{ type: 'text', text: 'a' }]);
    expect(withMessageText(m, 'a')).toBe(m);
    const frozen = JSON.parse(JSON.stringify(m)) as typeof m;
    const next = withMessageText(m, 'b');
    expect(m).toEqual(frozen);
    expect(next).toEqual(toolResult([{ type: 'text', text: 'b' }]));
  });

  it('a replacement with another line count inside one slot stays in that slot', () => {
    const m = toolResult([
      { type: 'text', text: 'k1\nk2' },
      { type: 'image', source: {} },
      { type: 'text', text: 'tail' },
    ]);
    expect(withMessageText(m, '[REDACTED:private_key]\ntail')).toEqual(
      toolResult([
        { type: 'text', text: '[REDACTED:private_key]' },
        { type: 'image', source: {} },
        { type: 'text', text: 'tail' },
      ]),
    );
  });

  it('changes in several slots that change the line count stay in their slots; a change across a boundary merges the slots it spans', () => {
    // Images between the text parts: parts side by side are one run read back to back (see
    // the next test); these are joined with '\n' and cut by the line alignment.
    const image = { type: 'image', source: {} };
    const m = {
      role: 'user',
      content: [
        { type: 'text', text: 'head' },
        image,
        { type: 'text', text: 'mail a@b.co' },
        { type: 'tool_result', tool_use_id: 't', is_error: true, content: [{ type: 'text', text: 'mid' }] },
        { type: 'text', text: 'k1\nk2', cache_control: { type: 'ephemeral' } },
        image,
        { type: 'text', text: 'tail', cache_control: { type: 'ephemeral' } },
      ],
    };
    // Before the line alignment: 'mail [E]\nmid\n[K]' in the second part, the tool result
    // emptied and the key's part (with its cache_control) removed.
    expect(withMessageText(m, 'head\nmail [E]\nmid\n[K]\ntail')).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'head' },
        image,
        { type: 'text', text: 'mail [E]' },
        m.content[3],
        { type: 'text', text: '[K]', cache_control: { type: 'ephemeral' } },
        image,
        m.content[6],
      ],
    });
    // One redaction from the first part into the second: the first gets the new text of both.
    const across = {
      role: 'user',
      content: [
        { type: 'text', text: 'a\nk1' },
        image,
        { type: 'text', text: 'k2\nb', cache_control: { type: 'ephemeral' } },
      ],
    };
    expect(withMessageText(across, 'a\n[K]\nb')).toEqual({
      role: 'user',
      content: [{ type: 'text', text: 'a\n[K]\nb' }, image],
    });
    // Changed lines on both sides of a boundary: cut where the lines' ends fit the old ones.
    const adjacent = {
      role: 'user',
      content: [
        { type: 'text', text: 'mail x@y.com' },
        image,
        { type: 'text', text: 'k@z.com please', cache_control: { type: 'ephemeral' } },
        image,
        { type: 'text', text: 'k1\nk2' },
      ],
    };
    expect(withMessageText(adjacent, 'mail [E]\n[E] please\n[K]')).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'mail [E]' },
        image,
        { type: 'text', text: '[E] please', cache_control: { type: 'ephemeral' } },
        image,
        { type: 'text', text: '[K]' },
      ],
    });
    // A string slot is emptied, not removed.
    expect(withMessageText({ type: 'function_call_output', content: 'x\ny', output: 'z' }, '[K]')).toEqual({
      type: 'function_call_output',
      content: '[K]',
      output: '',
    });
  });

  it('text parts side by side (read back to back): a redaction across a cut leaves the placeholder before it and the rest after it, each part keeping its fields', () => {
    const across = {
      role: 'user',
      content: [
        { type: 'text', text: 'a\nk1' },
        { type: 'text', text: 'k2\nb', cache_control: { type: 'ephemeral' } },
      ],
    };
    expect(messageText(across)).toBe('a\nk1k2\nb');
    expect(withMessageText(across, 'a\n[K]\nb')).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'a\n[K]' },
        { type: 'text', text: '\nb', cache_control: { type: 'ephemeral' } },
      ],
    });
    // Two redactions, each across a cut, with an untouched part between them and parts
    // cut mid-word: the untouched part is found by the text either side of its cuts.
    const parts = ['Mail jane@exa', 'mple.com, ', 'or call me, or ', 'bob@', 'example.org', ' today.'];
    const m = { role: 'user', content: parts.map((text, i) => ({ type: 'text', text, id: i })) };
    const next = withMessageText(m, 'Mail [E], or call me, or [E] today.') as typeof m;
    expect(next.content).toEqual([
      { type: 'text', text: 'Mail [E]', id: 0 },
      { type: 'text', text: ', ', id: 1 },
      { type: 'text', text: 'or call me, or ', id: 2 },
      { type: 'text', text: '[E]', id: 3 },
      { type: 'text', text: ' today.', id: 5 },
    ]);
  });

  it('property: any replacement of a range reads back as the new text, up to the separators of removed parts', () => {
    const chars = fc.string({ unit: fc.constantFrom('a', 'b', '\n'), maxLength: 8 });
    fc.assert(
      fc.property(
        fc.array(chars, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        // An insert begins and ends with a character the texts lack, so the changed range is
        // exactly [from, to); a pure deletion may be read as another equal one (deleting one of
        // two newlines), so only the parts before it are certain to be kept.
        fc.oneof(
          fc.constant(''),
          fc.string({ unit: fc.constantFrom('X', '\n'), maxLength: 6 }).map((x) => `X${x}X`),
        ),
        (texts, i, j, insert) => {
          const message = { role: 'user', content: texts.map((text) => ({ type: 'text', text })) };
          const old = messageText(message);
          const [from, to] = [i % (old.length + 1), j % (old.length + 1)].sort((a, b) => a - b) as [
            number,
            number,
          ];
          const edited = old.slice(0, from) + insert + old.slice(to);
          const next = withMessageText(message, edited);
          // Text parts side by side are one run, read back to back: exactly the new text.
          expect(messageText(next)).toBe(edited);
          // Never more parts than before, never an added one.
          const parts = (next as typeof message).content;
          expect(parts.length).toBeLessThanOrEqual(texts.length);
          // The parts wholly before the replaced range, and wholly after it, are kept as they were.
          for (let k = 0, at = 0; k < texts.length; at += texts[k]!.length, k++) {
            if (at + texts[k]!.length < from) expect(parts[k]).toEqual(message.content[k]);
            if (at > to && insert !== '')
              expect(parts[parts.length - (texts.length - k)]).toEqual(message.content[k]);
          }
        },
      ),
    );
  });

  it('a message with no text slot gets the text as its content', () => {
    expect(withMessageText({ role: 'assistant', content: null }, 'x')).toEqual({
      role: 'assistant',
      content: 'x',
    });
  });

  it('property: any line-preserving edit of each slot comes back slot by slot; reading the result gives the edited text', () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '@', '\n'), maxLength: 12 });
    const slotShape = fc.constantFrom(
      'text',
      'tool_result_string',
      'tool_result_blocks',
      'tool_result_search',
      'document',
      'tool_result_document',
      'image',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(slotShape, line, line), { maxLength: 6 }),
        fc.oneof(fc.constant(undefined), line),
        (parts, output) => {
          const content = parts.map(([shape, text]) =>
            shape === 'text'
              ? { type: 'text', text }
              : shape === 'tool_result_string'
                ? { type: 'tool_result', tool_use_id: 't', content: text }
                : shape === 'tool_result_blocks'
                  ? {
                      type: 'tool_result',
                      tool_use_id: 't',
                      content: [{ type: 'text', text }, { type: 'image' }],
                    }
                  : shape === 'tool_result_search'
                    ? {
                        type: 'tool_result',
                        tool_use_id: 't',
                        content: [
                          {
                            type: 'search_result',
                            source: 's',
                            title: 'r',
                            content: [{ type: 'text', text }],
                          },
                        ],
                      }
                    : shape === 'document'
                      ? { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } }
                      : shape === 'tool_result_document'
                        ? {
                            type: 'tool_result',
                            tool_use_id: 't',
                            content: [{ type: 'document', source: { type: 'text', data: text } }],
                          }
                        : { type: 'image', source: {} },
          );
          const message: Record<string, unknown> = { role: 'user', content };
          if (output !== undefined) message.output = output;
          // The edit: every character 'a' becomes 'X' (same lines), as a redaction within lines does.
          const edited = messageText(message).replaceAll('a', 'X');
          const next = withMessageText(message, edited) as Record<string, unknown>;
          expect(messageText(next)).toBe(edited);
          // Structure kept: the same number of parts, the same types and ids. Text parts side by
          // side are one run, cut by the text around each cut (slot-chars.ts): where every
          // character either side of a cut changed ('a' + 'a' -> 'XX') no text tells where it
          // was, the first part takes the run and the others are removed (54c25b7's rule; this
          // check asked for every part and failed on such a run, at random seeds).
          const runs = parts.some(([shape], i) => shape === 'text' && parts[i + 1]?.[0] === 'text');
          const types = (v: unknown) =>
            JSON.stringify(
              runs && Array.isArray(v) ? v.filter((b) => (b as { type?: string }).type !== 'text') : v,
              (k, val: unknown) =>
                k === 'text' || k === 'data' || (k === 'content' && typeof val === 'string')
                  ? undefined
                  : val,
            );
          expect(types(next.content)).toBe(types(content));
        },
      ),
    );
  });
});

describe('redaction write-back: no original text survives', () => {
  // A slot in one of the shapes the reader takes (or an image, which holds no text).
  type Shape = 'text' | 'tool_result_string' | 'tool_result_blocks' | 'search' | 'document' | 'image';
  const slotOf = (shape: Shape, text: string): unknown =>
    shape === 'text'
      ? { type: 'text', text }
      : shape === 'tool_result_string'
        ? { type: 'tool_result', tool_use_id: 't', content: text }
        : shape === 'tool_result_blocks'
          ? { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image' }, { type: 'text', text }] }
          : shape === 'search'
            ? { type: 'search_result', source: 's', title: 'r', content: [{ type: 'text', text }] }
            : shape === 'document'
              ? { type: 'document', source: { type: 'text', data: text } }
              : { type: 'image', source: { data: 'img' } };
  // What must be kept whatever the rewrite: the non-text blocks, the ids, the block order.
  const skeleton = (content: unknown): string =>
    JSON.stringify(content, (k, v: unknown) =>
      k === 'text' || k === 'data' || (k === 'content' && typeof v === 'string')
        ? undefined
        : k === 'content' && Array.isArray(v)
          ? v.filter((b) => (b as { type?: string }).type !== 'text')
          : v,
    );

  it("a modify to '' entirely sends no original text and keeps the non-text blocks, ids and order", () => {
    const m = {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'a',
          content: [
            { type: 'text', text: 'SECRET1\nSECRET2' },
            { type: 'image', source: { data: 'i1' } },
          ],
        },
        { type: 'tool_result', tool_use_id: 'b', content: 'SECRET3' },
        { type: 'image', source: { data: 'i2' } },
        { type: 'text', text: 'SECRET4' },
      ],
    };
    const next = withMessageText(m, '') as typeof m;
    expect(JSON.stringify(next)).not.toContain('SECRET');
    expect(messageText(next).replaceAll('\n', '')).toBe('');
    expect(next.role).toBe('user');
    expect(next.content.slice(0, 3)).toMatchObject([
      {
        type: 'tool_result',
        tool_use_id: 'a',
        content: expect.arrayContaining([{ type: 'image', source: { data: 'i1' } }]),
      },
      { type: 'tool_result', tool_use_id: 'b' },
      m.content[2],
    ]);
  });

  // Was a known gap (review of bc31f0a): the common prefix / suffix was one range, from the
  // first changed character to the last, so when the line count changed (a multi-line key
  // redacted) and another redaction was in a later part, every part between them was merged
  // into the first: here the user's text block (with its cache_control) moved into the tool
  // result. Through the Anthropic adapter this message is two guard messages (tool-split.ts);
  // withMessageText alone is what any one guard message with several parts goes through.
  it('a key redacted in a tool_result and an email in the text block after it stay in their own blocks', () => {
    const m = {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'k',
          content: [{ type: 'text', text: 'key:\n-----BEGIN\nQUJD\n-----END' }],
        },
        { type: 'text', text: 'Mail it to jane@example.com', cache_control: { type: 'ephemeral' } },
      ],
    };
    expect(withMessageText(m, 'key:\n[REDACTED:private_key]\nMail it to [REDACTED:email]')).toEqual({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'k',
          content: [{ type: 'text', text: 'key:\n[REDACTED:private_key]' }],
        },
        { type: 'text', text: 'Mail it to [REDACTED:email]', cache_control: { type: 'ephemeral' } },
      ],
    });
  });

  it('property: random part splits, random redaction ranges (across parts and lines): sent text is the redacted text, no secret character left, non-text blocks and order kept', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '\n'), minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(
          fc.constantFrom<Shape>(
            'text',
            'tool_result_string',
            'tool_result_blocks',
            'search',
            'document',
            'image',
          ),
          {
            minLength: 7,
            maxLength: 7,
          },
        ),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 12 })), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('[REDACTED:email]', '[R]', 'a', ''),
        fc.boolean(),
        (whole, cutsRaw, shapes, rangesRaw, placeholder, textOnly) => {
          // The secret: every character inside a redaction range is '#' (newlines kept).
          const ranges = rangesRaw
            .map(
              ([at, n]) => [at % whole.length, Math.min(whole.length, (at % whole.length) + n + 1)] as const,
            )
            .sort((x, y) => x[0] - y[0]);
          const merged: Array<[number, number]> = [];
          for (const [f, t] of ranges) {
            const prev = merged[merged.length - 1];
            if (prev !== undefined && f <= prev[1]) prev[1] = Math.max(prev[1], t);
            else merged.push([f, t]);
          }
          const chars = [...whole];
          for (const [f, t] of merged) for (let i = f; i < t; i++) if (chars[i] !== '\n') chars[i] = '#';
          const secretText = chars.join('');
          // Random part splits (a repeated cut makes an empty part); the reader joins parts with '\n'.
          const cuts = cutsRaw.map((c) => c % (secretText.length + 1)).sort((x, y) => x - y);
          const texts: string[] = [];
          let from = 0;
          for (const c of cuts) {
            texts.push(secretText.slice(from, c));
            from = c;
          }
          texts.push(secretText.slice(from));
          const content: unknown[] = [];
          texts.forEach((t, i) => {
            if (!textOnly && shapes[i] === 'image') content.push(slotOf('image', ''));
            content.push(
              slotOf(textOnly ? 'text' : (shapes[i] as Shape) === 'image' ? 'text' : (shapes[i] as Shape), t),
            );
          });
          const message = { role: 'user', content };
          const old = messageText(message);
          // The redaction, as redact() does it on the joined text: each range (in joined
          // coordinates: the cuts shifted it by one per separator before it) replaced.
          const edited = old.replace(/[#]+(?:\n*[#]+)*/g, placeholder);
          const next = withMessageText(message, edited) as { role: string; content: unknown[] };
          const sent = messageText(next);
          expect(JSON.stringify(next)).not.toContain('#');
          expect(next.role).toBe('user');
          expect(skeleton({ content: next.content })).toBe(skeleton({ content }));
          if (textOnly) expect(sent).toBe(edited);
          // An emptied string or document slot is still read (one more separator), nothing else differs.
          else expect(sent.replaceAll('\n', '')).toBe(edited.replaceAll('\n', ''));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: redactions in several parts, changing the line count: the sent text is the redacted text, and every part none touched is sent as it was (text and other fields), in order', () => {
    // A part: clean text (a, b, space, newline) around an optional secret of one to three
    // lines of '#'. The guard redacts each secret to a placeholder ('[' is in no clean text),
    // so the boundaries between parts are left in place, as redact() leaves them when no match
    // crosses one.
    const clean = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n'), maxLength: 10 });
    const secret = fc.array(fc.string({ unit: fc.constant('#'), minLength: 1, maxLength: 4 }), {
      minLength: 1,
      maxLength: 3,
    });
    const part = fc.record({
      before: clean,
      secret: fc.option(secret, { freq: 2 }),
      after: clean,
      shape: fc.constantFrom('text', 'cached', 'tool_result'),
    });
    let multiLine = 0;
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 2, maxLength: 7 }),
        // One line each, as redact()'s are: a rewrite that adds lines to one slot and removes
        // as many from another keeps the line count and is cut by it (split()).
        fc.constantFrom('[R]', '[REDACTED:private_key]', '['),
        // 'separate': an image after each part, so each is read as its own text, joined with
        // '\n' and cut by the line alignment (slot-lines.ts); 'run': text parts only, side by
        // side, read back to back and cut by the text around each cut (slot-chars.ts).
        fc.constantFrom('separate', 'run'),
        (parts, placeholder, layout) => {
          const redacted = parts.filter((p) => p.secret !== null);
          fc.pre(redacted.length >= 2);
          // In a run the parts' clean text is told apart by a word of its own: a part whose text
          // is also the end of the changed part before it is not found where it was (the text
          // moves between the two; none is lost, none of the secret sent).
          const own = (i: number, c: string) => (layout === 'run' && c !== '' ? `w${i}${c}` : c);
          const text = (p: (typeof parts)[number], s: string, i: number) =>
            own(i, p.before) + s + own(i, p.after);
          const image = { type: 'image', source: { data: 'i' } };
          const shaped = (b: unknown) => (layout === 'separate' ? [b, image] : [b]);
          const block = (p: (typeof parts)[number], t: string) =>
            p.shape === 'text' || (layout === 'run' && p.shape === 'tool_result')
              ? { type: 'text', text: t }
              : p.shape === 'cached'
                ? { type: 'text', text: t, cache_control: { type: 'ephemeral' } }
                : {
                    type: 'tool_result',
                    tool_use_id: 'toolu_1',
                    is_error: false,
                    content: [{ type: 'text', text: t }],
                  };
          const message = {
            role: 'user',
            content: parts.flatMap((p, i) => shaped(block(p, text(p, p.secret?.join('\n') ?? '', i)))),
          };
          // What the guard rewrites: the text as read, each secret replaced.
          const edited = messageText({
            role: 'user',
            content: parts.flatMap((p, i) =>
              shaped(block(p, text(p, p.secret === null ? '' : placeholder, i))),
            ),
          });
          if (edited.split('\n').length !== messageText(message).split('\n').length) multiLine++;
          const next = withMessageText(message, edited) as typeof message;
          expect(JSON.stringify(next)).not.toContain('#');
          expect(messageText(next)).toBe(edited);
          // Each part none touched is in the result, byte for byte, and in order (in a run, a
          // part with no text is not asked for: none of the run's text marks where it was).
          const kept = parts.flatMap((p, i) =>
            p.secret === null && !(layout === 'run' && text(p, '', i) === '')
              ? [message.content[layout === 'run' ? i : 2 * i]]
              : [],
          );
          let last = -1;
          for (const k of kept) {
            const at = next.content.findIndex((c, i) => i > last && JSON.stringify(c) === JSON.stringify(k));
            expect(at, JSON.stringify(k)).toBeGreaterThan(last);
            last = at;
          }
        },
      ),
      { numRuns: 1000 },
    );
    // The runs that changed the line count are the ones this is about.
    expect(multiLine).toBeGreaterThan(200);
  });
});

describe('linear on hostile tool results', () => {
  const cpuMs = (fn: () => unknown): number => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = process.threadCpuUsage();
      fn();
      const t = process.threadCpuUsage(t0);
      best = Math.min(best, (t.user + t.system) / 1000);
    }
    return best;
  };

  it('1 MiB in 16-character blocks, 1 MiB of newlines and 1 MiB of numbered lines (two ways) rewritten: at most 6x the 256 KiB time, under 1 s', () => {
    const blocks = (n: number) =>
      toolResult(Array.from({ length: n / 16 }, () => ({ type: 'text', text: 'x'.repeat(16) })));
    const newlines = (n: number) =>
      toolResult([
        { type: 'text', text: '\n'.repeat(n / 2) },
        { type: 'text', text: '\n'.repeat(n / 2) },
      ]);
    // Two parts of numbered lines, every line changed: the line diff between them runs to its caps.
    const numbered = (n: number) => {
      const lines = (from: number) =>
        Array.from({ length: n / 16 }, (_, i) => `line ${from + i}`.padEnd(7, '.'));
      return toolResult([
        { type: 'text', text: lines(0).join('\n') },
        { type: 'text', text: lines(n).join('\n') },
      ]);
    };
    // The same with lines whose ends agree (the line hash reads the ends): every comparison
    // reads the whole line, up to the diff's cap on characters compared.
    const sameEnds = (n: number) => {
      const lines = (from: number) =>
        Array.from({ length: n / 32 }, (_, i) => `<<<<<<<<line ${String(from + i).padStart(8, '0')}>>>>>>>>`);
      return toolResult([
        { type: 'text', text: lines(0).join('\n') },
        { type: 'text', text: lines(n).join('\n') },
      ]);
    };
    for (const [label, make] of [
      ['blocks', blocks],
      ['newlines', newlines],
      ['numbered', numbered],
      ['same ends', sameEnds],
    ] as const) {
      const run = (n: number) => {
        const m = make(n);
        const text = messageText(m);
        // Same line count (split slot by slot), then one line fewer (all into the first slot),
        // then one line fewer with the first and last characters changed (the line diff over
        // all of it: the numbered lines all changed, past its caps; the newlines all alike, one
        // snake of every line).
        withMessageText(m, `z${text}`);
        withMessageText(m, text.slice(text.indexOf('\n') + 1));
        withMessageText(m, `<${text.slice(text.indexOf('\n') + 1, -1).replaceAll('line', 'LINE')}>`);
      };
      // As test/worst-case.test.ts: times under 25 ms are raised to it (timer and JIT noise),
      // and a ratio over the bound is measured up to four more times, each size's fastest kept,
      // so a descheduled or GC-heavy run on a loaded 2-core machine is not read as quadratic.
      let small = Infinity;
      let large = Infinity;
      for (let attempt = 0; attempt < 5; attempt++) {
        small = Math.min(
          small,
          Math.max(
            cpuMs(() => run(256 * 1024)),
            25,
          ),
        );
        large = Math.min(
          large,
          Math.max(
            cpuMs(() => run(1024 * 1024)),
            25,
          ),
        );
        if (large / small < 6) break;
      }
      const detail = `${label}: 256 KiB ${small.toFixed(1)} ms, 1 MiB ${large.toFixed(1)} ms`;
      expect(large / small, detail).toBeLessThan(6);
      expect(large, detail).toBeLessThan(1000);
    }
  });
});
