import {
  arr,
  emptySummary,
  num,
  obj,
  str,
  type Body,
  type ProviderAdapter,
  type StreamAccumulator,
} from './adapter.ts';

/** `openai` 7.x `embeddings.create`: traced and metered; there is no text output to guard. */
export const openaiEmbeddingsAdapter: ProviderAdapter = {
  provider: 'openai',
  operation: 'embeddings',
  method: 'openai.embeddings.create',
  guarded: false,
  guardInput(body: Body) {
    const inputs =
      typeof body.input === 'string'
        ? [body.input]
        : arr(body.input).filter((x): x is string => typeof x === 'string');
    return {
      provider: 'openai',
      operation: 'embeddings',
      model: str(body.model) ?? '',
      system: '',
      messages: inputs.map((content) => ({ role: 'user', content })),
      tools: [],
      body,
    };
  },
  applyInput: (body) => body,
  isStream: () => false,
  readResponse(data: unknown) {
    const d = obj(data);
    const s = emptySummary();
    s.model = str(d?.model);
    s.inputTokens = num(obj(d?.usage)?.prompt_tokens);
    return s;
  },
  applyOutput: (data) => data,
  newStream(): StreamAccumulator {
    return { observe: () => '', summary: emptySummary, complete: true };
  },
};
