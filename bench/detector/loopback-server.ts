// The loopback row's server, in a worker thread so its CPU time is measured apart from the
// client's: node:http + the OTLP/HTTP handler + EngineIngest. Messages: 'reset' (fresh
// engine), 'stats' (thread CPU seconds and counts), 'close'.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { createOtlpHttpHandler } from '../../packages/detector/src/otlp/http-handler.ts';
import { EngineIngest } from './pipeline.ts';

let ingest = new EngineIngest();
const handler = createOtlpHttpHandler({
  ingest: { logs: (r) => ingest.logs(r), traces: () => ingest.traces() },
});
const server = createServer((req, res) => {
  if (!handler(req, res)) res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  parentPort!.postMessage({ type: 'port', port: (server.address() as AddressInfo).port });
});
parentPort!.on('message', (msg: string) => {
  if (msg === 'reset') {
    ingest = new EngineIngest();
    parentPort!.postMessage({ type: 'reset' });
  } else if (msg === 'stats') {
    const cpu = process.threadCpuUsage();
    parentPort!.postMessage({
      type: 'stats',
      cpu: (cpu.user + cpu.system) / 1e6,
      accepted: ingest.accepted,
      rejected: ingest.rejected,
      alerts: ingest.alerts,
    });
  } else if (msg === 'close') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
