// One OTLP/gRPC logs export as a Collector's exporter sends it (the exact protobuf bytes of llmsec
// log records, one unary call, a deadline, the channel closed after), for the receiver tests that
// only need to know whether a sender was served.
import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { llmsecLogRecords } from './otlp-support.ts';

export const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

/** Exports `records` llmsec log records to `target` (`host:port`); resolves the call's error, or null. */
export function exportLogsGrpc(
  target: string,
  { records = 2, deadlineMs = 3_000 }: { records?: number; deadlineMs?: number } = {},
): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const body = Buffer.from(ProtobufLogsSerializer.serializeRequest(llmsecLogRecords(records))!);
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      LOGS_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null) => {
        client.close();
        resolve(err);
      },
    ),
  );
}
