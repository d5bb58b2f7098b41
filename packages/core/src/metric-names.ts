/**
 * Metric instrument names and their attribute keys, shared by every package, the Prometheus
 * rules and the Grafana dashboard. Prometheus names derive from these: dots become
 * underscores and counters gain `_total` (`llmsec.events` -> `llmsec_events_total`).
 * Attribute values are always bounded sets: never a user, session, prompt or free text.
 */

// --- security events and requests (sdk) ---
/** Counter. Attributes: category, severity, layer (guardrail layer / filter name, bounded). */
export const METRIC_EVENTS = 'llmsec.events';
/** Counter. Attributes: outcome (allowed|blocked|rate_limited|error), model (bounded). */
export const METRIC_REQUESTS = 'llmsec.requests';
/** Counter, USD. Attributes: model (bounded). */
export const METRIC_COST = 'llmsec.cost.usd';
/** Histogram, seconds. Attributes: layer (bounded), outcome (allow|block|modify). */
export const METRIC_GUARDRAIL_DURATION = 'llmsec.guardrail.duration';
/** GenAI semconv histogram, {token}. Attributes: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, gen_ai.token.type. */
export const METRIC_GEN_AI_TOKEN_USAGE = 'gen_ai.client.token.usage';
/** GenAI semconv histogram, seconds. Attributes: as above plus error.type. */
export const METRIC_GEN_AI_OPERATION_DURATION = 'gen_ai.client.operation.duration';
/** Counter. Attributes: component, error_type: telemetry failures swallowed to protect the app. */
export const METRIC_TELEMETRY_ERRORS = 'llmsec.telemetry.errors';

// --- detection ---
/** Counter. Attributes: rule, severity, status (firing|resolved). */
export const METRIC_ALERTS = 'llmsec.alerts';
/** Counter. Attributes: reason (late|queue_full|invalid). */
export const METRIC_DETECT_DROPPED = 'llmsec.detect.events.dropped';
/** Counter. Attributes: rule: incidents refused a slot because their rule had maxOpenIncidentsPerRule open, each opened (and fired) in the process-local overflow tier; with maxOverflowIncidentsPerRule 0, events on which the rule held, not opened (no alert). */
export const METRIC_DETECT_INCIDENTS_REFUSED = 'llmsec.detect.incidents.refused';
/** Counter. Attributes: sink, outcome (sent|failed|dropped). */
export const METRIC_ALERT_NOTIFICATIONS = 'llmsec.alert.notifications';

// --- rate limiting ---
/** Counter. Attributes: dimension (rpm|rph|rpd|tpm|tph|tpd|cost_hour|cost_day|concurrent|estimate|enforcement|none), outcome (allowed|refused|fallback). */
export const METRIC_RATELIMIT_DECISIONS = 'llmsec.ratelimit.decisions';
/** Counter. Attributes: error_type. */
export const METRIC_RATELIMIT_STORE_ERRORS = 'llmsec.ratelimit.store.errors';
/** Observable counter. Attributes: store (primary|fallback): blocked or banned subjects a MemoryStore lost because its enforced set overflowed. */
export const METRIC_RATELIMIT_ENFORCED_DROPPED = 'llmsec.ratelimit.enforced.dropped';
/** Counter. Attributes: level (normal|warning|throttled|blocked|banned): transitions into a level. */
export const METRIC_ENFORCEMENT_TRANSITIONS = 'llmsec.enforcement.transitions';

/** Spec buckets for gen_ai.client.operation.duration (seconds). */
export const GEN_AI_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Spec buckets for gen_ai.client.token.usage. */
export const GEN_AI_TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** Guardrail latency buckets (seconds): guards are meant to be fast, so finer at the bottom. */
export const GUARDRAIL_DURATION_BUCKETS = [
  0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
];
