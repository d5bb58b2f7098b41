// The measured pipeline, shared by the in-process rows and the loopback server: an OtlpIngest
// that turns decoded llmsec records into SecurityEvents (the receiver's to-event helper) and
// feeds a real DetectionEngine (memory state, default rules) with ingestOnce, as the detector
// service does, minus its queue: a request's records are all converted first and the events
// then handed to the engine in one run, as the service's DetectorIngest converts a request
// into one EventBatch that its queue drains (`oneByOne`: each event handed over as soon as it
// is converted, what this pipeline did before; on these requests it costs 1.04–1.10× the CPU, the
// decoder's and the engine's working sets taking turns per record instead of per request).
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine, type DetectionEngineOptions } from '@llmsec/detect';
import { logRecordToEvent } from '../../packages/detector/src/otlp/to-event.ts';
import type { DecodedLogRecord, IngestResult, OtlpIngest } from '../../packages/detector/src/otlp/types.ts';

export class EngineIngest implements OtlpIngest {
  readonly engine: DetectionEngine;
  alerts = 0;
  accepted = 0;
  rejected = 0;

  private readonly oneByOne: boolean;
  // One request's events and times, reused from request to request (emptied after each).
  private readonly events: SecurityEvent[] = [];
  private readonly times: number[] = [];

  /** `options`: extra engine options (the Redis state for the Redis rows). */
  constructor(options: Partial<DetectionEngineOptions> = {}, oneByOne = false) {
    this.engine = new DetectionEngine({ ...options, onAlert: () => void this.alerts++ });
    this.oneByOne = oneByOne;
  }

  logs(records: DecodedLogRecord[]): IngestResult {
    let rejected = 0;
    if (this.oneByOne) {
      for (const r of records) {
        const event = logRecordToEvent(r);
        if (event === undefined) rejected++;
        else this.engine.ingestOnce(event, r.timeMs);
      }
    } else {
      const { events, times, engine } = this;
      for (const r of records) {
        const event = logRecordToEvent(r);
        if (event === undefined) rejected++;
        else {
          events.push(event);
          times.push(r.timeMs);
        }
      }
      for (let i = 0; i < events.length; i++) engine.ingestOnce(events[i]!, times[i]);
      events.length = 0;
      times.length = 0;
    }
    this.accepted += records.length - rejected;
    this.rejected += rejected;
    return { kind: 'accepted', rejected };
  }

  traces(): IngestResult {
    return { kind: 'accepted', rejected: 0 };
  }
}
