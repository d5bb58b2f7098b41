import { fakeTokens, pieces, type FakeRequest, type ReplyPlan } from './reply.ts';
import type { SseEvent } from './server.ts';

/** OpenAI wire shapes (chat completions, responses, embeddings) of a ReplyPlan. */

const CREATED = 1_700_000_000;

export function chatCompletion(_req: FakeRequest, plan: ReplyPlan): unknown {
  const message = plan.toolCall
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: plan.toolCall.id,
            type: 'function',
            function: { name: plan.toolCall.name, arguments: plan.toolCall.arguments },
          },
        ],
      }
    : { role: 'assistant', content: plan.text };
  return {
    id: `chatcmpl-${plan.id}`,
    object: 'chat.completion',
    created: CREATED,
    model: plan.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.toolCall ? 'tool_calls' : 'stop' }],
    usage: usage(plan),
  };
}

export function chatStreamChunks(req: FakeRequest, plan: ReplyPlan): SseEvent[] {
  const base = {
    id: `chatcmpl-${plan.id}`,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: plan.model,
  };
  const out: SseEvent[] = [];
  const chunk = (delta: unknown, finish: string | null): SseEvent => ({
    data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] },
  });
  if (plan.toolCall) {
    out.push(
      chunk(
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              index: 0,
              id: plan.toolCall.id,
              type: 'function',
              function: { name: plan.toolCall.name, arguments: '' },
            },
          ],
        },
        null,
      ),
    );
    out.push(chunk({ tool_calls: [{ index: 0, function: { arguments: plan.toolCall.arguments } }] }, null));
    out.push(chunk({}, 'tool_calls'));
  } else {
    out.push(chunk({ role: 'assistant', content: '' }, null));
    for (const p of pieces(plan.text)) out.push(chunk({ content: p }, null));
    out.push(chunk({}, 'stop'));
  }
  const opts = req.body.stream_options as { include_usage?: boolean } | undefined;
  if (opts?.include_usage === true) out.push({ data: { ...base, choices: [], usage: usage(plan) } });
  out.push({ data: '[DONE]' });
  return out;
}

function usage(plan: ReplyPlan): unknown {
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: plan.completionTokens,
    total_tokens: plan.promptTokens + plan.completionTokens,
  };
}

function responseBody(
  plan: ReplyPlan,
  status: 'in_progress' | 'completed',
  withOutput: boolean,
): Record<string, unknown> {
  const output = !withOutput
    ? []
    : plan.toolCall
      ? [
          {
            type: 'function_call',
            id: `fc_${plan.id}`,
            call_id: plan.toolCall.id,
            name: plan.toolCall.name,
            arguments: plan.toolCall.arguments,
            status: 'completed',
          },
        ]
      : [
          {
            type: 'message',
            id: `msg_${plan.id}`,
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: plan.text, annotations: [] }],
          },
        ];
  return {
    id: `resp_${plan.id}`,
    object: 'response',
    created_at: CREATED,
    model: plan.model,
    status,
    output,
    usage: withOutput
      ? {
          input_tokens: plan.promptTokens,
          output_tokens: plan.completionTokens,
          total_tokens: plan.promptTokens + plan.completionTokens,
        }
      : null,
  };
}

export function responsesObject(_req: FakeRequest, plan: ReplyPlan): unknown {
  return responseBody(plan, 'completed', true);
}

export function responsesStreamEvents(_req: FakeRequest, plan: ReplyPlan): SseEvent[] {
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const out: SseEvent[] = [ev('response.created', { response: responseBody(plan, 'in_progress', false) })];
  if (!plan.toolCall) {
    for (const p of pieces(plan.text)) {
      out.push(
        ev('response.output_text.delta', {
          item_id: `msg_${plan.id}`,
          output_index: 0,
          content_index: 0,
          delta: p,
        }),
      );
    }
  }
  out.push(ev('response.completed', { response: responseBody(plan, 'completed', true) }));
  return out;
}

/** Embeddings: 8 deterministic floats per input; base64 (float32 LE) when the client asks for it. */
export function embeddings(req: FakeRequest): unknown {
  const inputs = Array.isArray(req.body.input) ? req.body.input.map(String) : [String(req.body.input ?? '')];
  const base64 = req.body.encoding_format === 'base64';
  const chars = inputs.reduce((n, t) => n + t.length, 0);
  return {
    object: 'list',
    model: typeof req.body.model === 'string' ? req.body.model : 'fake-embedding',
    data: inputs.map((text, index) => {
      const v = Array.from({ length: 8 }, (_, i) => ((text.length + i) % 10) / 10);
      return {
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      };
    }),
    usage: { prompt_tokens: fakeTokens(chars), total_tokens: fakeTokens(chars) },
  };
}
