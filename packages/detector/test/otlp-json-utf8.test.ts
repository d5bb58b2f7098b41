// OTLP/JSON bytes that are not UTF-8 made the whole request a 400 'invalid JSON body
// (TypeError)' (the Collector does not retry a 400: every record batched with one stray byte
// lost). Now they are read as U+FFFD, as the protobuf decoder reads a string field and llmsec
// replay a line; JSON that does not parse still fails the request, with the parser's words.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeLogs } from '../src/otlp/decode.ts';
import { OtlpDecodeError, resolveDecodeLimits } from '../src/otlp/limits.ts';

const limits = resolveDecodeLimits();

const record = (name: string, value: unknown): unknown => ({
  eventName: name,
  timeUnixNano: '1700000000000000000',
  attributes: [{ key: 'n', value }],
});

describe('OTLP/JSON body bytes', () => {
  it('bytes that are not UTF-8 are read as U+FFFD, the request taken', () => {
    const json = Buffer.from(
      JSON.stringify({
        resourceLogs: [{ scopeLogs: [{ logRecords: [record('a', { stringValue: 'XY' })] }] }],
      }),
    );
    const at = json.indexOf('XY');
    json[at] = 0xff; // not UTF-8 anywhere
    json[at + 1] = 0xc3; // a lead byte without its continuation
    const out = decodeLogs(json, 'json', limits);
    expect(out[0]!.attributes).toEqual({ n: '\uFFFD\uFFFD' });
  });

  it('invalid JSON still fails the request, saying where', () => {
    expect(() => decodeLogs(Buffer.from('{"resourceLogs": ['), 'json', limits)).toThrow(OtlpDecodeError);
    expect(() => decodeLogs(Buffer.from('{"resourceLogs": ['), 'json', limits)).toThrow(
      /^invalid JSON body: /,
    );
  });
});
