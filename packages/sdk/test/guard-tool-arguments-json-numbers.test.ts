import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { chatToolCallReply } from './fixtures/chat-tool-call-reply.ts';
import { MAIL_ASK as ask, readChatToolArguments } from './fixtures/chat-tool-call-read.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { detectJsonAware, redactJsonAware } from '../src/guards/pii-json-numbers.ts';

/**
 * A 16-digit numeric id written as a JSON number passes the card checksum one time in ten; it
 * counts as a card only beside a card word (its key, or the text just before it), so an honest
 * tool call is neither blocked by redact nor reported by detect (pii-json-numbers.ts). Cards in
 * strings, and numbers under card keys, are read as before.
 */

let args = '';
/** The answer's text beside the call (a JSON answer), null: none. */
let content: string | null = null;

const h = useInstrHarness({
  script: (req) =>
    req.path.endsWith('/chat/completions') ? chatToolCallReply(req, { args, content }) : undefined,
});

const client = (mode: PiiMode) => piiOpenAI(h, mode);
const call = (mode: PiiMode, stream: boolean) => readChatToolArguments(client(mode), stream);

/** An order id that passes the Luhn check (a Visa-shaped test number). */
const ID = '4532015112830366';

describe('card-like JSON numbers in tool-call arguments', () => {
  for (const stream of [false, true]) {
    const how = stream ? ', streamed' : '';

    it(`redact passes an order id written as a JSON number, unblocked and unchanged${how}`, async () => {
      args = `{"order_id":${ID},"items":[${ID},${ID}],"note":"ship today"}`;
      expect(await call('redact', stream)).toBe(args);
      expect(piiEvents(h)).toEqual([]);
    });

    it(`detect records nothing for it${how}`, async () => {
      args = `{"orderId": ${ID}}`;
      expect(await call('detect', stream)).toBe(args);
      await new Promise((r) => setTimeout(r, 50));
      expect(piiEvents(h)).toEqual([]);
    });

    it(`a card number under a card key is still found, and redact still blocks it${how}`, async () => {
      args = `{"card_number":${ID}}`;
      await expect(call('redact', stream)).rejects.toBeInstanceOf(OutputBlockedError);
      args = `{"payment":{"pan":${ID}}}`;
      await expect(call('block', stream)).rejects.toBeInstanceOf(OutputBlockedError);
      h.reset();
      args = `{"ccNum":${ID}}`;
      await call('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({
        pii_types: ['credit_card'],
        found_in: ['tool_arguments'],
      });
    });

    it(`a card in a string is redacted as before, the id beside it kept${how}`, async () => {
      args = `{"order_id":${ID},"memo":"card 4111 1111 1111 1111"}`;
      expect(JSON.parse(await call('redact', stream))).toEqual({
        order_id: Number(ID),
        memo: 'card [REDACTED:credit_card]',
      });
    });
  }
});

describe('a JSON answer (no tool call)', () => {
  it('complete: its id as a JSON number is no card (the rewrite reads it so too)', async () => {
    args = '';
    content = `{"order_id":${ID}}`;
    try {
      const c = client('redact');
      const got = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask });
      expect(got.choices[0]?.message.content).toBe(content);
      expect(piiEvents(h)).toEqual([]);
    } finally {
      content = null;
    }
  });

  it('streamed: read as its chunks were, redacted and reported as before', async () => {
    args = '';
    content = `{"order_id":${ID}}`;
    try {
      const s = await client('redact').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: ask,
        stream: true,
      });
      let out = '';
      for await (const chunk of s) out += chunk.choices[0]?.delta.content ?? '';
      expect(out).toBe('{"order_id":[REDACTED:credit_card]}');
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['credit_card'] });
    } finally {
      content = null;
    }
  });
});

describe('detectJsonAware / redactJsonAware', () => {
  it('reads a card word in the key, the array key, or just before the number', () => {
    expect(detectJsonAware(`{"id":${ID}}`)).toEqual([]);
    expect(detectJsonAware(`{"CreditCard":${ID}}`)).toEqual(['credit_card']);
    // The array's key, beyond the window; an object in the array has keys of its own.
    expect(detectJsonAware(`{"cards":[${'1,'.repeat(30)}[${ID}]]}`)).toEqual(['credit_card']);
    expect(detectJsonAware(`{"cards":[${'1,'.repeat(30)}{"x":[${ID}]}]}`)).toEqual([]);
    expect(detectJsonAware(`{"method":"visa","id":${ID}}`)).toEqual(['credit_card']);
    // A cut word is not read ('discard' ends in 'card'): the window starts at a word's start.
    expect(detectJsonAware(`{"${'x'.repeat(40)}discard":0,"id":${ID}}`)).toEqual([]);
    // Not JSON, or a string: read as before.
    expect(detectJsonAware(`order ${ID}`)).toEqual(['credit_card']);
    expect(detectJsonAware(`{"id":"${ID}"}`)).toEqual(['credit_card']);
    expect(detectJsonAware(`{"id":${ID}`)).toEqual(['credit_card']);
  });

  it('redacts around a kept number, every other finding replaced', () => {
    const r = redactJsonAware(`{"to":"a@b.io","id":${ID},"cc":${ID}}`);
    expect(r.types).toEqual(['email', 'credit_card']);
    expect(r.text).toBe(`{"to":"[REDACTED:email]","id":${ID},"cc":[REDACTED:credit_card]}`);
  });

  it('seeded random ids: none read as cards as JSON numbers, ~1 in 10 still in strings', () => {
    let seed = 1;
    const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    let asNumber = 0;
    let asString = 0;
    let luhn = 0;
    for (let i = 0; i < 1000; i++) {
      let id = '4';
      for (let d = 1; d < 16; d++) id += String(Math.floor(rand() * 10));
      if (detectJsonAware(`{"order_id":${id},"qty":2}`).length > 0) asNumber++;
      if (detectJsonAware(`{"order_id":"${id}","qty":2}`).length > 0) asString++;
      let sum = 0;
      for (let d = 0; d < 16; d++) {
        let v = Number(id[15 - d]);
        if (d % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
      }
      if (sum % 10 === 0) luhn++;
    }
    expect(asNumber).toBe(0);
    expect(asString).toBe(luhn);
    expect(luhn).toBeGreaterThan(50);
  });
});
