/**
 * Which OTLP protocol each signal is exported with. The OpenTelemetry spec (protocol/exporter.md,
 * "Specify Protocol") names three values, `grpc`, `http/protobuf` and `http/json`, set by
 * OTEL_EXPORTER_OTLP_PROTOCOL and overridden per signal by OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL
 * ("each configuration option MUST be overridable by a signal specific option"). The `protocol`
 * of setupLlmsec's `otlp` option, given in code, wins over both, as the OTel JS exporters let
 * their constructor options win over the environment.
 *
 * The default stays `http/json`, what setupLlmsec has always sent: the spec's default is a
 * SHOULD (`http/protobuf`), and an app upgraded without a change of configuration keeps the
 * bytes its receiver already accepts.
 */
export type OtlpProtocol = 'http/json' | 'http/protobuf' | 'grpc';
export type OtlpSignal = 'traces' | 'logs' | 'metrics';

export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/json', 'http/protobuf', 'grpc'];
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/json';

export function isOtlpProtocol(value: unknown): value is OtlpProtocol {
  return typeof value === 'string' && (OTLP_PROTOCOLS as readonly string[]).includes(value);
}

/** The protocol a signal is exported with, and where it came from (for messages). */
export interface SignalProtocol {
  protocol: OtlpProtocol;
  /** `otlp.protocol`, the variable's name, or `default`. */
  source: string;
}

/**
 * The per-signal choice: the option, else the signal's variable, else the general one, else the
 * default. A variable's value is trimmed and compared case-insensitively (`HTTP/Protobuf` is
 * what was meant); an empty one counts as unset. A value that is none of the three is skipped
 * with its `NAME=value` pushed to `unknown`, so the caller warns once and the next level (in the
 * end the default) decides: a typo must not turn export off.
 */
export function signalProtocol(
  signal: OtlpSignal,
  option: OtlpProtocol | undefined,
  env: NodeJS.ProcessEnv,
  unknown: string[],
): SignalProtocol {
  if (option !== undefined) return { protocol: option, source: 'otlp.protocol' };
  for (const name of [`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = (env[name] ?? '').trim();
    if (raw === '') continue;
    const value = raw.toLowerCase();
    if (isOtlpProtocol(value)) return { protocol: value, source: name };
    const entry = `${name}=${JSON.stringify(raw.slice(0, 64))}`;
    if (!unknown.includes(entry)) unknown.push(entry);
  }
  return { protocol: DEFAULT_OTLP_PROTOCOL, source: 'default' };
}
