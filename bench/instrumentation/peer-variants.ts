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
export type Variant = (typeof VARIANTS)[number];
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
};

export interface ChildResult {
  variant: Variant;
  wallUs: number;
  cpuUs: number;
  spansPerCall: number;
  spanAttributes: number;
  spanEvents: number;
  logsPerCall: number;
  metricPoints: number;
  metricNames: string[];
}
