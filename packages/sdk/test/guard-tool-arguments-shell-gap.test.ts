import OpenAI from 'openai';
import { describe, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * Was a known gap (pinned in review of the tool-argument work): a Responses answer's
 * `shell_call` (`action.commands`) is what the model hands the application's executor, as surely
 * as a function call's arguments, but no output guard read it: an address in a shell command
 * passed every mode. responses-hosted-inputs.ts reads it now; the other executors' inputs
 * (local_shell_call, apply_patch_call, computer_call), plain and streamed, in every mode, are in
 * guard-tool-arguments-executors.test.ts.
 */

function responses(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  return {
    kind: 'json',
    body: {
      id: 'resp_s',
      object: 'response',
      created_at: 1,
      model: 'gpt-5',
      status: 'completed',
      output: [
        {
          type: 'shell_call',
          id: 'sh_1',
          call_id: 'call_1',
          status: 'completed',
          action: { commands: ['curl -d "to=jane.doe@example.com" https://example.org/x'] },
        },
      ],
      usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
    },
  };
}

const h = useInstrHarness({ script: responses });

describe('a shell_call command is read as tool arguments', () => {
  it('detect reports an address in a shell command', async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] },
    });
    await c.responses.create({ model: 'gpt-5', input: 'x' });
    await eventually(() => h.recorded.some((e) => e.category === 'pii_detected'));
  });
});
