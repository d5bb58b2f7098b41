/**
 * The security-event and alert model: one object, many encodings (span event, log record,
 * JSONL). Field names are the snake_case names of docs/formats.md so that the
 * object *is* its JSON form; nothing maps names twice.
 */

export const CATEGORIES = [
  'guardrail_block',
  'output_filter_block',
  'rate_limit_hit',
  'anomalous_pattern',
  'system_prompt_leakage',
  'pii_detected',
  'tool_abuse_attempt',
  'auth_failure',
  'unusual_token_usage',
  'request_completed',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Readers accept categories they do not know (the format may grow); they just match no rule. */
export type CategoryName = Category | (string & {});

export const SEVERITIES = ['info', 'warning', 'alert', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Ordering for comparisons such as "at least alert". */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  info: 0,
  warning: 1,
  alert: 2,
  critical: 3,
};

export const DEFAULT_SEVERITY: Readonly<Record<Category, Severity>> = {
  guardrail_block: 'warning',
  output_filter_block: 'alert',
  rate_limit_hit: 'warning',
  anomalous_pattern: 'warning',
  system_prompt_leakage: 'critical',
  pii_detected: 'warning',
  tool_abuse_attempt: 'alert',
  auth_failure: 'warning',
  unusual_token_usage: 'warning',
  request_completed: 'info',
};

/** Category-specific metadata, as in events.md. Unknown keys are allowed and kept. */
export interface CategoryMetadata {
  guardrail_block: {
    guardrail_layer: string;
    block_reason: string;
    /**
     * `tool` when the blocked text was a tool's output (a tool result, a retrieved document),
     * not the end user's: indirect prompt injection. Absent otherwise (and in older events).
     */
    input_source?: 'tool';
  };
  output_filter_block: { filter_name: string; block_reason: string };
  rate_limit_hit: { limit_type: string; current: number; limit: number };
  anomalous_pattern: { anomaly_type: string };
  system_prompt_leakage: { detection_method: string; confidence: number };
  pii_detected: {
    pii_types: string[];
    direction: 'input' | 'output';
    /** `tool` when every finding of an input was in a tool's output; absent otherwise. */
    input_source?: 'tool';
  };
  tool_abuse_attempt: { tool_name: string; block_reason: string };
  auth_failure: { reason: string };
  unusual_token_usage: { prompt_tokens: number; completion_tokens: number };
  request_completed: {
    model: string;
    prompt_tokens: number;
    completion_tokens: number;
    latency_ms: number;
    cost_usd: number;
    prompt_length: number;
    /**
     * Characters of what this call added: the trailing user / tool messages since the last
     * assistant message (history and system prompt excluded). Absent in events from before it
     * existed and from emitters that cannot tell (rules fall back or skip; see the rule file).
     */
    new_input_length?: number;
    /** 1-based model call index within its conversation, when the call belongs to one. */
    turn_index?: number;
    blocked: boolean;
    /**
     * `tool` when an input guard blocked the request for a tool's output it carried (the
     * guardrail_block's `input_source`), not for the user's text. Absent otherwise.
     */
    block_source?: 'tool';
  };
}

/** A metadata value: what survives both JSON and OpenTelemetry attributes. */
export type MetadataValue = string | number | boolean | string[] | number[] | boolean[];
export type Metadata = Record<string, MetadataValue>;

export interface SecurityEvent {
  event_id: string;
  /** RFC 3339 with zone; event time, not ingest time. */
  timestamp: string;
  category: CategoryName;
  severity: Severity;
  /** End user; `anonymous` when unknown. */
  user_id: string;
  session_id?: string;
  /** W3C trace id, 32 lowercase hex. */
  trace_id?: string;
  /** 16 lowercase hex. */
  span_id?: string;
  source_ip?: string;
  service?: string;
  description?: string;
  /** Redacted, truncated (<= 500 chars). */
  request_preview?: string;
  /** Redacted, truncated (<= 500 chars). */
  response_preview?: string;
  metadata?: Metadata;
  correlated_events?: string[];
  /**
   * The GenAI conversation: `gen_ai.conversation.id` on span events and log records, and an
   * optional JSONL field (added after the others: older lines lack it).
   */
  conversation_id?: string;
}

export const ALERT_SEVERITIES = ['warning', 'alert', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export type AlertStatus = 'firing' | 'resolved';

export interface Alert {
  /** Stable for one incident: the same for its firing and resolved lines. */
  alert_id: string;
  rule: string;
  severity: AlertSeverity;
  status: AlertStatus;
  /** The group key, e.g. `{ user_id: 'u1' }` or `{ fingerprint: '…' }`. */
  labels: Record<string, string>;
  /** Every user implicated (user ids only, never another field's values). */
  user_ids: string[];
  /**
   * A `cross_group` rule counting something other than user ids (`across: source_ip`): the
   * distinct values it counted when the incident opened, under that field's name, e.g.
   * `{ source_ip: ['198.51.100.7', '203.0.113.9'] }` (bounded). Absent for every other rule.
   */
  across?: Record<string, string[]>;
  /** Event time the incident began (RFC 3339). */
  starts_at: string;
  /** Event time it resolved (resolved lines only). */
  ends_at?: string;
  description: string;
  /** Event ids, bounded (first and last few). */
  evidence: string[];
  trace_ids?: string[];
  /** In-process only (not in the alert JSONL): the rule's title, for summaries. */
  title?: string;
  /** In-process only (not in the alert JSONL): where the runbook lives. */
  runbook_url?: string;
  /** In-process only: the span of the event that fired it (or resolved it, when an implicated user's), for log correlation. */
  trigger?: { trace_id: string; span_id?: string };
  /**
   * Set when the rule reads only victim-side categories (VICTIM_CATEGORIES), so `user_ids` are
   * accounts something was done to, not who did it. The alert→violation bridge and the
   * detector's fleet enforcement never act on them by severity, whatever the rule's id (a custom
   * rule as much as a built-in one). In the alert JSONL and the webhook body too (encodeAlert),
   * so a reader that feeds the bridge from them keeps the exemption.
   */
  users_are_victims?: true;
}

export const ANONYMOUS_USER = 'anonymous';
/** events.md: previews are truncated to this many characters. */
export const PREVIEW_MAX_CHARS = 500;

// Sets, not Array.includes: checked for every event built and every line read, and includes
// compares strings one by one (request_completed, the commonest category, is the last of ten).
const CATEGORY_SET: ReadonlySet<string> = new Set(CATEGORIES);
const SEVERITY_SET: ReadonlySet<string> = new Set(SEVERITIES);

export function isCategory(value: unknown): value is Category {
  return typeof value === 'string' && CATEGORY_SET.has(value);
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && SEVERITY_SET.has(value);
}

/**
 * Categories whose `user_id` names the account something was done to, chosen by whoever sent
 * the request: an auth_failure's user id is the account the caller typed (no login succeeded),
 * so anyone can produce one in any account's name. In every other category the user id is the
 * app's caller, who did what the event reports. (A tool-sourced guardrail_block names the users
 * whose requests carried the payload: victims of one poisoned page, or the author of many
 * (tool_injection_variety); only the rule's shape tells, so indirect_prompt_injection is
 * exempted by id, VICTIM_RULES of @llmsec/ratelimit.)
 */
export const VICTIM_CATEGORIES: readonly CategoryName[] = Object.freeze(['auth_failure']);

/**
 * True when a rule reading `categories` names only victims: it reads at least one category
 * and every one is victim-side. A rule mixing in any other category names actors too.
 */
export function readsOnlyVictimCategories(categories: readonly CategoryName[]): boolean {
  return categories.length > 0 && categories.every((c) => VICTIM_CATEGORIES.includes(c));
}

/** Block events: what the escalation and campaign rules read. */
export function isBlockCategory(category: CategoryName): boolean {
  return category === 'guardrail_block' || category === 'output_filter_block';
}
