import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { readableJson, textSlot, type ArgumentSlot } from '../src/instrumentation/tool-arguments.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { chatToolCallReply } from './fixtures/chat-tool-call-reply.ts';
import { readChatToolArguments } from './fixtures/chat-tool-call-read.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';

/**
 * `\uXXXX` escapes in tool-call arguments' JSON text are read as their characters
 * (tool-arguments.ts readableJson): `jane\u0040example.com` is the address the application
 * gets once it parses the arguments, and before, no output guard saw one there. A rewrite is
 * written back with the text around the change as sent, so the arguments stay JSON and parse
 * to the same values but for the placeholder.
 */

let args = '';

const h = useInstrHarness({
  script: (req) => (req.path.endsWith('/chat/completions') ? chatToolCallReply(req, { args }) : undefined),
});

const call = (mode: PiiMode, stream: boolean) => readChatToolArguments(piiOpenAI(h, mode), stream);

/** The address with its @ written as an escape, beside other escapes the rewrite must keep. */
const ESCAPED = '{"greeting":"caf\\u00e9","to":"jane.doe\\u0040example.com","sign":"J\\u00fcrgen\\nBilling"}';

describe('\\u escapes in tool-call arguments are read as their characters', () => {
  for (const stream of [false, true]) {
    const how = stream ? ', streamed' : '';

    it(`detect reports the escaped address${how}`, async () => {
      args = ESCAPED;
      expect(await call('detect', stream)).toBe(ESCAPED);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
    });

    it(`block refuses it${how}`, async () => {
      args = ESCAPED;
      await expect(call('block', stream)).rejects.toBeInstanceOf(OutputBlockedError);
    });

    it(`redact replaces it, the escapes around kept, the JSON the same but for the placeholder${how}`, async () => {
      args = ESCAPED;
      const got = await call('redact', stream);
      expect(got).toBe('{"greeting":"caf\\u00e9","to":"[REDACTED:email]","sign":"J\\u00fcrgen\\nBilling"}');
      expect(JSON.parse(got)).toEqual({ ...(JSON.parse(ESCAPED) as object), to: '[REDACTED:email]' });
    });
  }

  it('clean escaped arguments pass redact as sent', async () => {
    args = '{"greeting":"caf\\u00e9 \\u0041\\u0042","n":"\\u0022quoted\\u0022"}';
    expect(await call('redact', false)).toBe(args);
    expect(await call('redact', true)).toBe(args);
  });
});

describe('readableJson and the write-back (unit)', () => {
  it('decodes \\u escapes of JSON text only, and never to a quote, backslash, control character or surrogate half', () => {
    expect(readableJson('{"to":"jane\\u0040x.com"}')).toBe('{"to":"jane@x.com"}');
    // Free text (not JSON): its letters are what they are.
    expect(readableJson('mail jane\\u0040x.com')).toBe('mail jane\\u0040x.com');
    const kept = '{"a":"\\u0022\\u005c\\u000a\\ud83d\\ude00\\u0041"}';
    expect(readableJson(kept)).toBe('{"a":"\\u0022\\u005c\\u000a\\ud83d\\ude00A"}');
  });

  it('a rewrite of several findings keeps every escape outside the changed span and the text JSON', () => {
    const raw = '{"x":"\\u00e9","to":"a\\u0040b.com","y":"\\u00e8","cc":"c\\u0040d.com","z":"\\u00ea"}';
    const holder: Record<string, unknown> = { arguments: raw };
    const slots: ArgumentSlot[] = [];
    textSlot(holder, 'arguments', slots);
    const read = slots[0]!.read;
    expect(read).toBe('{"x":"é","to":"a@b.com","y":"è","cc":"c@d.com","z":"ê"}');
    slots[0]!.write(read.replace('a@b.com', '[R]').replace('c@d.com', '[R]'));
    const out = holder.arguments as string;
    expect(out.startsWith('{"x":"\\u00e9","to":"[R]"')).toBe(true);
    expect(out.endsWith('"cc":"[R]","z":"\\u00ea"}')).toBe(true);
    expect(JSON.parse(out)).toEqual({ x: 'é', to: '[R]', y: 'è', cc: '[R]', z: 'ê' });
  });

  it('hostile: 200,000 escapes are read and written back in one pass each', () => {
    const raw = `{"a":"${'\\u0041'.repeat(200_000)}","to":"x\\u0040y.com"}`;
    const holder: Record<string, unknown> = { arguments: raw };
    const slots: ArgumentSlot[] = [];
    textSlot(holder, 'arguments', slots);
    expect(slots[0]!.read.length).toBe(raw.length - 5 * 200_001);
    slots[0]!.write(slots[0]!.read.replace('x@y.com', '[R]'));
    expect(JSON.parse(holder.arguments as string)).toEqual({ a: 'A'.repeat(200_000), to: '[R]' });
    expect((holder.arguments as string).startsWith('{"a":"\\u0041')).toBe(true);
  });
});
