/**
 * The parts of decoded OTLP records the service reads. The OTLP decoders (../otlp/) produce
 * richer objects (DecodedLogRecord, DecodedSpan in ../otlp/types.ts); these structural subsets keep the service
 * independent of the wire side and let tests build inputs by hand.
 */
export type AttributeMap = Readonly<Record<string, unknown>>;

export interface LogRecordInput {
  readonly timeMs: number;
  readonly eventName: string;
  readonly attributes: AttributeMap;
  readonly traceId: string;
  readonly spanId: string;
  /** Resource attributes. */
  readonly resource: AttributeMap;
}

export interface SpanEventInput {
  readonly timeMs: number;
  readonly name: string;
  readonly attributes: AttributeMap;
}

export interface SpanInput {
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: AttributeMap;
  readonly events: readonly SpanEventInput[];
  readonly status: { readonly code: number };
  /** Resource attributes. */
  readonly resource: AttributeMap;
  /** Instrumentation scope name, or ''. */
  readonly scope: string;
}
