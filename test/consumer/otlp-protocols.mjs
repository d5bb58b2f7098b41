// Consumer check, OTLP protocols: an app with only @llmsec/core and @llmsec/sdk installed (no
// gRPC exporters, no @grpc/grpc-js) exports over http/protobuf and http/json by the standard
// variables, and with OTEL_EXPORTER_OTLP_PROTOCOL=grpc gets a console warning naming what to
// install, without a throw. Run by test/consumer.test.ts; prints one JSON line.
import { createServer } from 'node:http';
import { trace } from '@opentelemetry/api';
import { setupLlmsec } from '@llmsec/sdk';

const hits = [];
const server = createServer((req, res) => {
  hits.push(`${req.url} ${req.headers['content-type']}`);
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;

const warnings = [];
const consoleWarn = console.warn;
console.warn = (...args) => warnings.push(args.join(' '));

async function exportOnce(protocol, endpoint) {
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = protocol;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  const llmsec = setupLlmsec({ serviceName: 'consumer-otlp', prometheus: false });
  trace.getTracer('app').startActiveSpan('chat', (span) => {
    llmsec.events.guardrailBlock({ layer: 'input', reason: 'test' });
    span.end();
  });
  await llmsec.shutdown();
}

const result = {};
for (const protocol of ['http/protobuf', 'http/json']) {
  hits.length = 0;
  await exportOnce(protocol, url);
  result[protocol] = [...new Set(hits)].sort();
}
hits.length = 0;
// Nothing listens on :9; with the exporters missing nothing is even tried.
await exportOnce('grpc', 'http://127.0.0.1:9');
result.grpc = { hits: [...hits], warnings };
console.warn = consoleWarn;
server.close();
console.log(JSON.stringify(result));
