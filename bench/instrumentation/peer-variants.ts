/** The variants of the peer comparison (peers.ts, peer-child.ts) and what each is compared with. */

export const VARIANTS = [
  'openai 7, plain',
  'llmsec, no guards',
  'llmsec, default guards',
  'openinference 4.2.7',
  'openai 6, plain',
  'llmsec, no guards (openai 6)',
  'otel instrumentation-openai 0.22.0',
  'traceloop 0.27.0',
] as const;
/**
 * `--peer-crosstalk`: llmsec without and with the default guards, each timed in a process where
 * the other client is built and called too (in alternating batches, only this one timed), as in
 * the in-process benches (run.ts, guards-call.ts). The pair against the two single-client
 * variants shows what sharing JIT-compiled code between the two configurations does to the
 * guards' added time.
 */
export const CROSSTALK_VARIANTS = [
  'llmsec, no guards, beside guards',
  'llmsec, default guards, beside no guards',
] as const;
export type Variant = (typeof VARIANTS)[number] | (typeof CROSSTALK_VARIANTS)[number];
/** `--peer-llmsec-only`: the openai 7 rows without the OpenInference peer (a quicker run of the guards' rows). */
export const LLMSEC_VARIANTS: readonly Variant[] = [
  'openai 7, plain',
  'llmsec, no guards',
  'llmsec, default guards',
];
/**
 * `--peer-official-only`: ours and the official instrumentation on the same client (openai 6)
 * and that plain client: the instrumentation aim alone, for repeated runs.
 */
export const OFFICIAL_VARIANTS: readonly Variant[] = [
  'openai 6, plain',
  'llmsec, no guards (openai 6)',
  'otel instrumentation-openai 0.22.0',
];
/** The plain client each variant is compared with (same openai major). */
export const BASELINE: Record<Variant, Variant> = {
  'openai 7, plain': 'openai 7, plain',
  'llmsec, no guards': 'openai 7, plain',
  'llmsec, default guards': 'openai 7, plain',
  'openinference 4.2.7': 'openai 7, plain',
  'openai 6, plain': 'openai 6, plain',
  'llmsec, no guards (openai 6)': 'openai 6, plain',
  'otel instrumentation-openai 0.22.0': 'openai 6, plain',
  'traceloop 0.27.0': 'openai 6, plain',
  'llmsec, no guards, beside guards': 'openai 7, plain',
  'llmsec, default guards, beside no guards': 'openai 7, plain',
};

export interface ChildResult {
  variant: Variant;
  wallUs: number;
  cpuUs: number;
  /** The main thread's CPU per call (cpuUs less the JIT's and GC's background threads). */
  mainCpuUs: number;
  spansPerCall: number;
  spanAttributes: number;
  spanEvents: number;
  logsPerCall: number;
  metricPoints: number;
  metricNames: string[];
}
