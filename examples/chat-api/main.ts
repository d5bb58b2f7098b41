// The example chat API as a program (the compose stack's `chat-api` service):
//   PORT=8080 LLMSEC_UPSTREAM_URL=http://127.0.0.1:8090/v1 node examples/chat-api/main.ts
// With no upstream configured it starts the local fake LLM itself (LLMSEC_FAKE_UPSTREAM=true).
import { startFakeLlm } from '../fake-llm/server.ts';
import { startChatApi } from './app.ts';
import { configFromEnv } from './options.ts';
import { demoUpstreamScript } from './upstream-script.ts';

const options = configFromEnv();
let fake: Awaited<ReturnType<typeof startFakeLlm>> | undefined;
if (process.env.LLMSEC_UPSTREAM_URL === undefined || process.env.LLMSEC_FAKE_UPSTREAM === 'true') {
  fake = await startFakeLlm({ script: demoUpstreamScript });
  options.upstream = { baseURL: fake.openaiBaseURL, apiKey: 'fake-key' };
}
const api = await startChatApi(options);
console.log(`chat-api listening on ${api.url} (upstream ${options.upstream.baseURL})`);

const stop = async (): Promise<void> => {
  await api.close();
  await fake?.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
