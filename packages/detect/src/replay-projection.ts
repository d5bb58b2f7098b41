import type { Metadata, SecurityEvent, Severity } from '@llmsec/core';
import { eventFingerprint, FINGERPRINT_FIELD } from './fields.ts';
import { fieldsOf } from './state/projection.ts';
import type { RuleDefinition } from './types.ts';

/**
 * What a replay's engine needs of each event, per category: the shared state's projection
 * (ids, user, category, severity, trace and span, the fields of the rules matching the category;
 * the payload fingerprint instead of the preview it is computed from) plus the timestamp. An
 * event of a category no rule matches keeps only what every event needs (it still advances
 * event time and resolves incidents). Without rules, every field is kept.
 *
 * The reader thread writes these fields into one flat array per batch (`write`), which
 * crosses threads by structured clone; the engine's thread reads the events back (`read`),
 * built exactly as state/projection.ts's projector builds them (same fields, same key order;
 * a property test holds it to that). A flat array of strings and numbers costs a third of
 * what JSON text did on the engine's thread (no parser, no per-key hashing) and the reader
 * builds no projected object; the strings arrive as fresh, flat copies (never slices of a
 * larger text that an engine holding one would keep alive).
 *
 * Per event: the category's number, event_id, timestamp, severity, user_id, trace_id,
 * span_id, then the category's top-level fields, its metadata keys and the fingerprint, in
 * layout order (undefined where the event has none). Categories are numbered by the writer in
 * order of first appearance; a batch carries the names it numbered (`takeNewCategories`), and
 * the reader side learns them (`learnCategories`) before reading the batch. The severity is
 * its number in SEVERITY_NAMES.
 */
interface Layout {
  top: (keyof SecurityEvent)[];
  meta: string[];
  fingerprint: boolean;
}

/** Severities by their number in the flat form (core's order), read back as these constants. */
const SEVERITY_NAMES: readonly Severity[] = ['info', 'warning', 'alert', 'critical'];

/** A severity's number in the flat form (its index in SEVERITY_NAMES), -1 for none of them. */
function severityNumber(severity: string): number {
  switch (severity) {
    case 'info':
      return 0;
    case 'warning':
      return 1;
    case 'alert':
      return 2;
    case 'critical':
      return 3;
  }
  return -1;
}

/** Fields every event keeps (and that a layout's `top` therefore leaves out). */
const ALWAYS = new Set(['event_id', 'category', 'severity', 'user_id', 'trace_id', 'span_id']);

function layoutOf(paths: Iterable<string>): Layout {
  // The projector's order: top-level paths, then metadata keys, each in order of first mention.
  const top = new Set<string>();
  const meta = new Set<string>();
  let fingerprint = false;
  for (const p of paths) {
    if (p === FINGERPRINT_FIELD) fingerprint = true;
    else if (p.startsWith('metadata.')) meta.add(p.slice('metadata.'.length));
    else if (!ALWAYS.has(p)) top.add(p);
  }
  return { top: [...top] as (keyof SecurityEvent)[], meta: [...meta], fingerprint };
}

export class ReplayProjection {
  /** undefined: no rules given, every event crosses whole. */
  private readonly pathsByCategory: Map<string, string[]> | undefined;
  private readonly other: Layout = layoutOf([]);
  /** Layouts by category number (both sides number categories alike). */
  private readonly layouts: Layout[] = [];
  private readonly names: string[] = [];
  /** Writer side: category name -> number. */
  private readonly numbers = new Map<string, number>();
  private fresh: string[] = [];

  constructor(rules: readonly RuleDefinition[] | undefined) {
    if (rules === undefined) return;
    const paths = new Map<string, string[]>();
    for (const rule of rules) {
      for (const category of rule.match.categories) {
        const list = paths.get(category) ?? [];
        list.push(...fieldsOf(rule));
        paths.set(category, list);
      }
    }
    this.pathsByCategory = paths;
  }

  /**
   * Writes what the engine needs of `event` into `values` from index `at` (by default its end)
   * and returns the index after it. By index, not push: the reader writes into an array made
   * at its full size (replay-reader-worker.ts), where a push-grown one allocated its store ~3
   * times over (half its capacity plus 16 at each growth).
   */
  write(event: SecurityEvent, values: unknown[], at: number = values.length): number {
    if (this.pathsByCategory === undefined) {
      values[at] = event;
      return at + 1;
    }
    const category = event.category;
    let n = this.numbers.get(category);
    if (n === undefined) {
      n = this.addCategory(category);
      this.numbers.set(category, n);
      this.fresh.push(category);
    }
    const layout = this.layouts[n]!;
    const severity = severityNumber(event.severity);
    let i = at;
    values[i++] = n;
    values[i++] = event.event_id;
    values[i++] = event.timestamp;
    values[i++] = severity >= 0 ? severity : event.severity;
    values[i++] = event.user_id;
    values[i++] = event.trace_id;
    values[i++] = event.span_id;
    const top = layout.top;
    for (let k = 0; k < top.length; k++) values[i++] = event[top[k]!];
    const meta = layout.meta;
    if (meta.length > 0) {
      const m = event.metadata;
      for (let k = 0; k < meta.length; k++) values[i++] = m !== undefined ? m[meta[k]!] : undefined;
    }
    if (layout.fingerprint) values[i++] = eventFingerprint(event);
    return i;
  }

  /**
   * What the engine needs of `event`, as one object (what `read` gives back after `write`):
   * for a replay on one thread, so that the reorder buffer holds no previews either.
   */
  project(event: SecurityEvent): SecurityEvent {
    if (this.pathsByCategory === undefined) return event;
    const category = event.category;
    let n = this.numbers.get(category);
    if (n === undefined) {
      n = this.addCategory(category);
      this.numbers.set(category, n);
    }
    const layout = this.layouts[n]!;
    const out: SecurityEvent = {
      event_id: event.event_id,
      timestamp: event.timestamp,
      category,
      severity: event.severity,
      user_id: event.user_id,
    };
    if (event.trace_id !== undefined) out.trace_id = event.trace_id;
    if (event.span_id !== undefined) out.span_id = event.span_id;
    const top = layout.top;
    if (top.length > 0) {
      const o = out as unknown as Record<string, unknown>;
      for (let k = 0; k < top.length; k++) {
        const v = event[top[k]!];
        if (v !== undefined) o[top[k]!] = v;
      }
    }
    let m: Metadata | undefined;
    const meta = layout.meta;
    const src = event.metadata;
    if (src !== undefined) {
      for (let k = 0; k < meta.length; k++) {
        const v = src[meta[k]!];
        if (v !== undefined) (m ??= {})[meta[k]!] = v;
      }
    }
    if (layout.fingerprint) {
      const fp = eventFingerprint(event);
      if (fp !== undefined) (m ??= {}).payload_fingerprint = fp;
    }
    if (m !== undefined) out.metadata = m;
    return out;
  }

  /** Writer side: the categories numbered since the last call, in number order. */
  takeNewCategories(): string[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** Reader side: the categories of a batch, before reading it. */
  learnCategories(names: readonly string[]): void {
    for (const name of names) this.addCategory(name);
  }

  /**
   * Reads the event written at values[at]; calls `onEvent` with it and returns where the next
   * one starts.
   */
  read(values: readonly unknown[], at: number, onEvent: (event: SecurityEvent) => void): number {
    if (this.pathsByCategory === undefined) {
      onEvent(values[at] as SecurityEvent);
      return at + 1;
    }
    const n = values[at] as number;
    const layout = this.layouts[n]!;
    // The projector's key order: the five fields every event has, trace, span, the rest.
    const severity = values[at + 3] as number | Severity;
    const event: SecurityEvent = {
      event_id: values[at + 1] as string,
      timestamp: values[at + 2] as string,
      category: this.names[n]!,
      severity: typeof severity === 'number' ? SEVERITY_NAMES[severity]! : severity,
      user_id: values[at + 4] as string,
    };
    const trace = values[at + 5];
    if (trace !== undefined) event.trace_id = trace as string;
    const span = values[at + 6];
    if (span !== undefined) event.span_id = span as string;
    let i = at + 7;
    const top = layout.top;
    if (top.length > 0) {
      const o = event as unknown as Record<string, unknown>;
      for (let k = 0; k < top.length; k++) {
        const v = values[i++];
        if (v !== undefined) o[top[k]!] = v;
      }
    }
    let m: Metadata | undefined;
    const meta = layout.meta;
    for (let k = 0; k < meta.length; k++) {
      const v = values[i++];
      if (v !== undefined) (m ??= {})[meta[k]!] = v as Metadata[string];
    }
    if (layout.fingerprint) {
      const fp = values[i++];
      if (fp !== undefined) (m ??= {}).payload_fingerprint = fp as string;
    }
    if (m !== undefined) event.metadata = m;
    onEvent(event);
    return i;
  }

  private addCategory(name: string): number {
    const paths = this.pathsByCategory!.get(name);
    this.layouts.push(paths !== undefined ? layoutOf(paths) : this.other);
    this.names.push(name);
    return this.names.length - 1;
  }
}

/**
 * What the engine needs of each event under `rules`, as `llmsec replay` feeds it on one thread:
 * the event with only the fields the rules read (the previews it hashes become the payload
 * fingerprint), so that events held for the allowed lateness cost tens of bytes, not the line.
 */
export function replayProjector(rules: readonly RuleDefinition[]): (event: SecurityEvent) => SecurityEvent {
  const projection = new ReplayProjection(rules);
  return (event) => projection.project(event);
}
