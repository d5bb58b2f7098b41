import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * KNOWN GAP (pinned, found in review of the tool-argument work): a Responses answer's
 * `shell_call` (`action.commands`), `local_shell_call` (`action.command`) and
 * `apply_patch_call` (`operation.diff`) are what the model hands the application's executors,
 * as surely as a function call's arguments, but no output guard reads them (tool-arguments.ts
 * and responses-hosted-inputs.ts read function, custom, web search, MCP and code interpreter
 * calls only): an address in a shell command passes every mode. Streams send the commands as
 * `response.shell_call_command.delta` pieces, which redact would have to keep back as it does a
 * function call's. When fixed, drop `.fails`.
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
  it.fails('detect reports an address in a shell command', async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'detect', directions: ['output'] })] },
    });
    await c.responses.create({ model: 'gpt-5', input: 'x' });
    await eventually(() => h.recorded.some((e) => e.category === 'pii_detected'), 1000);
  });
});
