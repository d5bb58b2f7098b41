import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A streamed shell_call whose command, in its `shell_call_command` added / delta / done events,
 * is not a string (an argv list: not the API's shape, but a server may send it, and an executor
 * that stringifies or joins it runs it). The stream read and rewrote those events' strings only,
 * so an address there passed detect, block and redact; a call's arguments in the other events
 * are read as their JSON text since 66f8731. Now these are too. The item repeats no command (its
 * `action.commands` empty) and there is no terminal response: the events are the only place.
 */

const EMAIL = 'jane.doe@example.com';
const MODEL = 'gpt-5';
/** The command: set per test. */
let command: unknown = ['mail', EMAIL];

const item = (status: string) => ({
  type: 'shell_call',
  id: 'sh_1',
  call_id: 'call_1',
  status,
  action: { commands: [] },
});

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses') || req.body.stream !== true) return undefined;
  const ev = responseEvents();
  const at = { output_index: 0, command_index: 0 };
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: responseBody('resp_s', MODEL, 'in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: item('in_progress') }),
      ev('response.shell_call_command.added', { ...at, command: '' }),
      ev('response.shell_call_command.delta', { ...at, delta: command }),
      ev('response.shell_call_command.done', { ...at, command }),
      ev('response.output_item.done', { output_index: 0, item: item('completed') }),
    ],
  };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, seen: unknown[] = []) => readResponses(piiOpenAI(h, mode), MODEL, true, seen);

type Ev = { type: string; delta?: unknown; command?: unknown };

describe('a shell command that is not a string, in its shell_call_command events', () => {
  it('detect reports it, found in tool_arguments', async () => {
    command = ['mail', EMAIL];
    await run('detect');
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
  });

  it('block refuses the answer, none of it delivered', async () => {
    command = ['mail', EMAIL];
    const seen: unknown[] = [];
    await expect(run('block', seen)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
  });

  it('redact sends its rewrite whole, as a string, in one delta and the done event', async () => {
    command = ['mail', EMAIL];
    const seen = (await run('redact')) as Ev[];
    expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
    const deltas = seen.filter((e) => e.type === 'response.shell_call_command.delta' && e.delta !== '');
    const done = seen.filter((e) => e.type === 'response.shell_call_command.done');
    const want = '["mail","[REDACTED:email]"]';
    expect(deltas.map((e) => e.delta)).toEqual([want]);
    expect(done.map((e) => e.command)).toEqual([want]);
  });

  it('a clean one passes every mode, its value kept', async () => {
    command = ['ls', '-la'];
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const seen = (await run(mode)) as Ev[];
      const done = seen.find((e) => e.type === 'response.shell_call_command.done')!.command;
      // Redact kept the pieces back and sends the command whole: as its JSON text when unchanged.
      expect(typeof done === 'string' ? JSON.parse(done) : done).toEqual(['ls', '-la']);
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
