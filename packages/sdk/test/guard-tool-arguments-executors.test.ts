import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { emailModeCases } from './fixtures/email-mode-cases.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * What a Responses answer hands the application's executors (responses-hosted-inputs.ts): a
 * shell_call's commands, a local_shell_call's argv and env, an apply_patch_call's diff, a
 * computer_call's typed text. The output guards read them as tool arguments, through the real
 * openai 7 client against the fake server, plain and streamed; a streamed shell command comes
 * as shell_call_command added / delta / done events, its address cut between two deltas. Before,
 * an address in any of them passed every mode.
 */

const EMAIL = 'jane.doe@example.com';
const COMMAND = `curl -d "to=${EMAIL}" https://example.org/x`;
type Kind =
  | 'shell'
  | 'local_shell'
  | 'local_shell_env'
  | 'apply_patch'
  | 'apply_patch_path'
  | 'computer'
  | 'computer_actions'
  | 'computer_keypress'
  | 'computer_keys_held'
  | 'computer_two_typed';
/** Which call the answer makes: set per test. */
let kind: Kind = 'shell';
/** Whether the stream ends with its response.completed (a cut stream ends without). */
let terminal = true;

/** A call item of `type` (id `id`) with the fields that say what it runs. */
function item(type: string, id: string, status: string, fields: Record<string, unknown>) {
  return { type, id, call_id: 'call_1', status, ...fields };
}

/** A computer_call with these fields (`action`, or `actions`). */
function computer(status: string, fields: Record<string, unknown>) {
  return item('computer_call', 'cu_1', status, { pending_safety_checks: [], ...fields });
}

/** A `type` action typing the address (a new object each time: nothing shared between items). */
const typed = () => ({ type: 'type', text: `Send to ${EMAIL}` });

function callItem(status: string, streaming = false): Record<string, unknown> {
  switch (kind) {
    case 'shell':
      return item('shell_call', 'sh_1', status, {
        // Streamed, the added item has no command yet: the command events carry it.
        action: { commands: streaming ? [] : ['ls', COMMAND], max_output_length: null, timeout_ms: null },
      });
    case 'local_shell':
      return item('local_shell_call', 'lsh_1', status, {
        action: { type: 'exec', command: ['curl', '-d', `to=${EMAIL}`, 'https://example.org/x'], env: {} },
      });
    case 'local_shell_env':
      return item('local_shell_call', 'lsh_1', status, {
        action: { type: 'exec', command: ['sh', '-c', 'notify'], env: { TO: EMAIL } },
      });
    case 'apply_patch':
      return item('apply_patch_call', 'ap_1', status, {
        operation: { type: 'update_file', path: 'contacts.txt', diff: `@@\n-old\n+${EMAIL}\n` },
      });
    case 'apply_patch_path':
      // The address in the file's name: the diff holds none.
      return item('apply_patch_call', 'ap_1', status, {
        operation: { type: 'delete_file', path: `inbox/${EMAIL}/notes.txt` },
      });
    case 'computer':
      return computer(status, { action: typed() });
    case 'computer_actions':
      return computer(status, { actions: [{ type: 'click', button: 'left', x: 1, y: 2 }, typed()] });
    case 'computer_keypress':
      return computer(status, { action: { type: 'keypress', keys: ['ctrl', EMAIL] } });
    case 'computer_keys_held':
      // The keys held during a click (modifiers), each a key the model named.
      return computer(status, {
        actions: [
          { type: 'keypress', keys: ['ctrl', 'a'] },
          { type: 'click', button: 'left', x: 1, y: 2, keys: [EMAIL] },
        ],
      });
    case 'computer_two_typed':
      // Two typed texts, the address in the first: each read, not the last under a shared key.
      return computer(status, { actions: [typed(), { type: 'type', text: 'Hello' }] });
  }
}

function responses(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const response = (status: string, output: unknown[]) => responseBody('resp_x', 'gpt-5', status, output);
  if (req.body.stream !== true) return { kind: 'json', body: response('completed', [callItem('completed')]) };
  const ev = responseEvents();
  const commands: SseEvent[] = [];
  if (kind === 'shell')
    for (const [i, c] of ['ls', COMMAND].entries()) {
      commands.push(
        ev('response.shell_call_command.added', { output_index: 0, command_index: i, command: '' }),
      );
      // The address cut between two deltas: neither piece holds it.
      const cut = c.indexOf('.doe');
      for (const piece of cut < 0 ? [c] : [c.slice(0, cut), c.slice(cut)])
        commands.push(
          ev('response.shell_call_command.delta', { output_index: 0, command_index: i, delta: piece }),
        );
      commands.push(
        ev('response.shell_call_command.done', { output_index: 0, command_index: i, command: c }),
      );
    }
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: callItem('in_progress', true) }),
      ...commands,
      ev('response.output_item.done', { output_index: 0, item: callItem('completed') }),
      ...(terminal
        ? [ev('response.completed', { response: response('completed', [callItem('completed')]) })]
        : []),
    ],
  };
}

const h = useInstrHarness({ script: responses });

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), 'gpt-5', stream, seen);

const KINDS: Kind[] = [
  'shell',
  'local_shell',
  'local_shell_env',
  'apply_patch',
  'apply_patch_path',
  'computer',
  'computer_actions',
  'computer_keypress',
  'computer_keys_held',
];

describe('what the model hands the executors is read as tool arguments', () => {
  for (const k of KINDS)
    for (const stream of [false, true]) {
      const how = `${k}${stream ? ', streamed' : ''}`;

      emailModeCases(
        h,
        how,
        () => {
          kind = k;
        },
        (mode, seen) => run(mode, stream, seen),
      );
    }

  it('computer_call, streamed and cut before its terminal event: each typed text is read, not only the last', async () => {
    kind = 'computer_two_typed';
    terminal = false;
    try {
      await run('detect', true);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ found_in: ['tool_arguments'] });
      const seen: unknown[] = [];
      await expect(run('block', true, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
    } finally {
      terminal = true;
    }
  });

  it('shell, streamed redact: each command goes out whole, rewritten, in one delta before its done event', async () => {
    kind = 'shell';
    const seen = (await run('redact', true)) as Array<Record<string, unknown>>;
    const deltas = seen.filter((e) => e.type === 'response.shell_call_command.delta' && e.delta !== '');
    expect(deltas.map((e) => [e.command_index, e.delta])).toEqual([
      [0, 'ls'],
      [1, 'curl -d "to=[REDACTED:email]" https://example.org/x'],
    ]);
    const done = seen.filter((e) => e.type === 'response.shell_call_command.done').map((e) => e.command);
    expect(done).toEqual(['ls', 'curl -d "to=[REDACTED:email]" https://example.org/x']);
    // Each whole delta comes just before its done event.
    for (const d of deltas)
      expect(seen[seen.indexOf(d) + 1]).toMatchObject({ type: 'response.shell_call_command.done' });
  });
});
