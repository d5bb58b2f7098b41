import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * Tool-call arguments are JSON full of ids, numbers, timestamps, UUIDs, digit runs and base64
 * (tool-arguments.ts reads them as their JSON text): realistic calls of weather, SQL, search and
 * calendar tools must give the default piiGuard nothing to report, and pass redact unchanged.
 * Not here, as core's detectors flag them by rule: a dotted quad ('10.2.3.4', an IP to the
 * detector) and a 16-digit id passing the card checksum (README).
 */

const ARGS: Array<Record<string, unknown>> = [
  { location: 'San Francisco, CA', unit: 'fahrenheit', lat: 37.7749295, lon: -122.4194155, days: 7 },
  { city_id: 2988507, date: '2025-03-14', hourly: true, tz: 'Europe/Paris' },
  {
    query:
      "SELECT id, name FROM orders WHERE created_at > '2024-01-01T00:00:00Z' AND org_id = 4815162342 LIMIT 100",
  },
  { sql: 'UPDATE orders SET status = $1 WHERE id = $2', params: ['shipped', 918273645] },
  { q: 'best pizza near me', page: 2, session_id: '550e8400-e29b-41d4-a716-446655440000' },
  { q: 'order status', request_id: 'req_8f14e45fceea167a5a36dedd4bea2543' },
  {
    event: {
      summary: 'Sync\nAgenda:\n\t1. roadmap\n\t2. hiring',
      start: '2025-06-01T09:30:00-07:00',
      end: '2025-06-01T10:00:00-07:00',
      attendees_count: 4,
      conference: { id: 'abc-defg-hij' },
    },
  },
  {
    calendar_id: 'primary',
    event_id: '7k3j2h1g0f9e8d7c6b5a4',
    recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=MO,WE'],
  },
  { ts: 1717171717171, epoch: 1717171717, nanos: '1717171717000000000', duration_ms: 8005551234 },
  { tracking: '1Z999AA10123456784', sku: '8901234567890', message_id: '1234567890123456789' },
  {
    image_b64:
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  },
  {
    hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    commit: '9fceb02d0ae598e95dc970b74767f19372d61af8',
  },
  { amount: 1234567.89, currency: 'USD', account_ref: 'ACCT-000123456', invoice: 'INV-2025-000042' },
  {
    coords: [
      [-122.42, 37.77],
      [-122.41, 37.78],
    ],
    zoom: 12,
    count: 5551234,
  },
  { isbn: '978-3-16-148410-0', upc: '036000291452', date_range: '20240101-20241231' },
];

let args = '';
const h = useInstrHarness({
  script: (req): FakeResponse | undefined =>
    req.path.endsWith('/chat/completions')
      ? {
          kind: 'json',
          body: {
            id: 'chatcmpl-n',
            object: 'chat.completion',
            created: 1,
            model: 'gpt-4o-mini',
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: null,
                  refusal: null,
                  tool_calls: [
                    { id: 'call_1', type: 'function', function: { name: 'tool', arguments: args } },
                  ],
                },
                logprobs: null,
                finish_reason: 'tool_calls',
              },
            ],
          },
        }
      : undefined,
});

describe('realistic tool-call arguments give the default piiGuard nothing', () => {
  for (const mode of ['detect', 'redact'] as const)
    it(`${mode}: ${ARGS.length} calls of weather, SQL, search and calendar tools, no event, unchanged`, async () => {
      const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
        ...h.options(),
        guards: { output: [piiGuard({ mode, directions: ['output'] })] },
      });
      const flagged: string[] = [];
      for (const a of ARGS) {
        h.reset();
        args = JSON.stringify(a);
        const r = await c.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'go' }],
        });
        const tc = r.choices[0]?.message.tool_calls?.[0];
        expect(tc?.type === 'function' ? tc.function.arguments : undefined).toBe(args);
        await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
        if (h.recorded.some((e) => e.category === 'pii_detected')) flagged.push(args);
      }
      expect(flagged).toEqual([]);
    });

  it('the check can fail: an address among them is reported', async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] },
    });
    args = JSON.stringify({ ...ARGS[6], organizer: 'jane.doe@example.com' });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'go' }] });
    await eventually(() => h.recorded.some((e) => e.category === 'pii_detected'));
  });
});
