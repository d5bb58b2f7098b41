// The measured pipeline, shared by the in-process rows and the loopback server: an OtlpIngest
// that turns decoded llmsec records into SecurityEvents (the receiver's to-event helper) and
// feeds a real DetectionEngine (memory state, default rules) with ingestOnce, as the detector
// service does, minus its queue.
import { DetectionEngine, type DetectionEngineOptions } from '@llmsec/detect';
import { logRecordToEvent } from '../../packages/detector/src/otlp/to-event.ts';
import type { DecodedLogRecord, IngestResult, OtlpIngest } from '../../packages/detector/src/otlp/types.ts';

export class EngineIngest implements OtlpIngest {
  readonly engine: DetectionEngine;
  alerts = 0;
  accepted = 0;
  rejected = 0;

  /** `options`: extra engine options (the Redis state for the Redis rows). */
  constructor(options: Partial<DetectionEngineOptions> = {}) {
    this.engine = new DetectionEngine({ ...options, onAlert: () => void this.alerts++ });
  }

  logs(records: DecodedLogRecord[]): IngestResult {
    let rejected = 0;
    for (const r of records) {
      const event = logRecordToEvent(r);
      if (event === undefined) rejected++;
      else this.engine.ingestOnce(event, r.timeMs);
    }
    this.accepted += records.length - rejected;
    this.rejected += rejected;
    return { kind: 'accepted', rejected };
  }

  traces(): IngestResult {
    return { kind: 'accepted', rejected: 0 };
  }
}
