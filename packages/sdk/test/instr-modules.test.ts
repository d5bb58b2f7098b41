import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testTimeLeftMs } from '../../../test/support/time-left.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const node = `${root}node_modules/.bin/node`;
const fixtures = 'packages/sdk/test/fixtures';

async function scenario(args: string[]): Promise<{
  spans: Array<Record<string, unknown>>;
  categories: string[];
  blocked: string;
  betaBlocked: string;
  requests: number;
}> {
  // A bound on a hung child only: the test's time left, not a fixed 30 s. The child loads both
  // SDKs and the instrumentation from the TypeScript sources (2.5 s of CPU for CommonJS, 5 s
  // for ESM), which took 28.7 s and more than 30 s at load 25 on 2 cores.
  const { stdout } = await run(node, args, { cwd: root, timeout: testTimeLeftMs() });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as never;
}

const expectedSpans = [
  { name: 'chat gpt-4o-mini', provider: 'openai', input: 2, output: 3, error: null },
  { name: 'chat gpt-4o-mini', provider: 'openai', input: 2, output: 3, error: null },
  { name: 'chat claude-haiku-4-5', provider: 'anthropic', input: 1, output: 2, error: null },
  { name: 'chat gpt-4o-mini', provider: 'openai', input: null, output: null, error: 'GuardrailBlockedError' },
  // beta.messages.create (blocked before it is sent) and openai's beta.responses.create.
  {
    name: 'chat claude-haiku-4-5',
    provider: 'anthropic',
    input: null,
    output: null,
    error: 'GuardrailBlockedError',
  },
  { name: 'chat gpt-4o-mini', provider: 'openai', input: 2, output: 3, error: null },
];
const expectedCategories = [
  'request_completed',
  'request_completed',
  'request_completed',
  'guardrail_block',
  'request_completed',
  'guardrail_block',
  'request_completed',
  'request_completed',
];

describe('LlmClientInstrumentation in both module systems (real openai and @anthropic-ai/sdk)', () => {
  it('CommonJS: require() after registration is patched', async () => {
    const out = await scenario([`${fixtures}/instr-cjs.cjs`]);
    expect(out.spans).toEqual(expectedSpans);
    expect(out.categories).toEqual(expectedCategories);
    expect(out.blocked).toBe('GuardrailBlockedError');
    expect(out.betaBlocked).toBe('GuardrailBlockedError');
    expect(out.requests).toBe(4);
  });

  it('ESM: import is patched when started with --import @llmsec/sdk/hook', async () => {
    const out = await scenario([
      '--import',
      '@llmsec/sdk/hook',
      '--import',
      `./${fixtures}/instr-esm-setup.mjs`,
      `${fixtures}/instr-esm-app.mjs`,
    ]);
    expect(out.spans).toEqual(expectedSpans);
    expect(out.categories).toEqual(expectedCategories);
    expect(out.betaBlocked).toBe('GuardrailBlockedError');
    expect(out.requests).toBe(4);
  });

  it('ESM without the hook: imports are not patched (the hook is what makes ESM work)', async () => {
    const out = await scenario([
      '--import',
      `./${fixtures}/instr-esm-setup.mjs`,
      `${fixtures}/instr-esm-app.mjs`,
    ]);
    expect(out.categories).toEqual([]);
    expect(out.requests).toBe(6);
    // Only the Anthropic SDK's own built-in spans remain (messages and beta.messages).
    expect(out.spans.map((s) => s.name)).toEqual(['anthropic.messages.create', 'anthropic.messages.create']);
  });
});
