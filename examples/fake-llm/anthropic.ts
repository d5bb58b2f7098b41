import { pieces, type FakeRequest, type ReplyPlan } from './reply.ts';
import type { SseEvent } from './server.ts';

/** Anthropic Messages wire shapes (JSON and the SSE event sequence) of a ReplyPlan. */

function content(plan: ReplyPlan): unknown[] {
  return plan.toolCall
    ? [
        {
          type: 'tool_use',
          id: `toolu_${plan.id}`,
          name: plan.toolCall.name,
          input: JSON.parse(plan.toolCall.arguments) as unknown,
        },
      ]
    : [{ type: 'text', text: plan.text }];
}

export function anthropicMessage(_req: FakeRequest, plan: ReplyPlan): unknown {
  return {
    id: `msg_${plan.id}`,
    type: 'message',
    role: 'assistant',
    model: plan.model,
    content: content(plan),
    stop_reason: plan.toolCall ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: plan.promptTokens, output_tokens: plan.completionTokens },
  };
}

export function anthropicStreamEvents(_req: FakeRequest, plan: ReplyPlan): SseEvent[] {
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const out: SseEvent[] = [
    ev('message_start', {
      message: {
        id: `msg_${plan.id}`,
        type: 'message',
        role: 'assistant',
        model: plan.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: plan.promptTokens, output_tokens: 1 },
      },
    }),
  ];
  if (plan.toolCall) {
    out.push(
      ev('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: `toolu_${plan.id}`, name: plan.toolCall.name, input: {} },
      }),
    );
    out.push(
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'input_json_delta', partial_json: plan.toolCall.arguments },
      }),
    );
  } else {
    out.push(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    for (const p of pieces(plan.text))
      out.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }));
  }
  out.push(ev('content_block_stop', { index: 0 }));
  out.push(
    ev('message_delta', {
      delta: { stop_reason: plan.toolCall ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: plan.completionTokens },
    }),
  );
  out.push(ev('message_stop', {}));
  return out;
}
