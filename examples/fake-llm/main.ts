import { startFakeLlm } from './server.ts';

/**
 * CLI: `node examples/fake-llm/main.ts [port]` starts the fake OpenAI + Anthropic server on
 * 127.0.0.1 and prints its base URLs as one JSON line (port 0 or none: a free port).
 */
const arg = process.argv[2];
const port = arg === undefined ? 0 : Number(arg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`usage: main.ts [port]  (got ${String(arg)})\n`);
  process.exit(2);
}
const fake = await startFakeLlm({ port });
process.stdout.write(
  `${JSON.stringify({ url: fake.url, openaiBaseURL: fake.openaiBaseURL, port: fake.port })}\n`,
);
const stop = (): void => {
  void fake.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
