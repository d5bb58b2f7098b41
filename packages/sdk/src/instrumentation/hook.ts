// ESM support for LlmClientInstrumentation: start Node with
//   node --import @llmsec/sdk/hook --import ./otel-setup.js app.js
// so that `import OpenAI from 'openai'` is loaded through import-in-the-middle and can be patched.
// (The setup file must create and enable the instrumentation before the app's imports run.)
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
