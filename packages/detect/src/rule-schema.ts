import { z } from 'zod';
import { ALERT_SEVERITIES } from '@llmsec/core';
import { MAX_RULE_DURATION_MS } from './duration-cap.ts';
import { durationUnitProblem, parseDuration } from './duration.ts';
import { isKnownField } from './fields.ts';
import { runbookUrlSchema } from './runbook-url-schema.ts';

/**
 * The schema of rule files (JSON or YAML). Durations are `10m`-style strings or milliseconds
 * and come out as `window_ms` / `quiet_ms`. Field names are checked here, so a typo fails at
 * load time with the file, the rule and the field named.
 */

// An event's time plus a window or quiet period must stay a timestamp (duration-cap.ts).
const MAX_DURATION_MS = MAX_RULE_DURATION_MS;

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: `bad duration ${JSON.stringify(value)} (${durationUnitProblem(value) ?? 'want e.g. 30s, 10m, 1h or milliseconds'})`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .refine((ms) => ms <= MAX_DURATION_MS, {
    // Longer loaded and ran in memory, but on the Redis state the rule's incidents were
    // dropped as damaged, or (past 100000000d) every write of its groups failed: replay and
    // detector replicas degraded with no word of the rule.
    message: 'must be at most 10000000d (an event time plus it must stay a timestamp)',
  });

const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });

const field = z.string().refine(isKnownField, {
  message: 'unknown field (want an event field such as user_id, metadata.<key>, or fingerprint)',
});

const positiveInt = z.number().int().positive();
// A value a field is compared with: YAML's null, .inf, .nan, lists and maps are refused by name.
const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: 'want a string, a finite number or true / false (not null, .inf, .nan, a list or a map)',
});

const condition = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('count'), min: positiveInt }),
  z.strictObject({ kind: z.literal('distinct'), field, min: positiveInt }),
  z.strictObject({
    kind: z.literal('ratio'),
    min_events: positiveInt,
    field,
    equals: scalar.optional(),
    above: z.number().min(0).max(1),
  }),
  z.strictObject({
    kind: z.literal('monotonic'),
    value: z.union([field, z.array(field).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
    min_events: positiveInt,
    last: z.number().int().min(2).optional(),
    factor: z.number().positive(),
  }),
  z.strictObject({ kind: z.literal('identical'), field, min_events: positiveInt }),
  z.strictObject({
    kind: z.literal('baseline'),
    sum: z.union([field, z.array(field).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
    factor: z.number().nonnegative(),
    sigmas: z.number().nonnegative(),
    min_samples: positiveInt,
  }),
  z.strictObject({ kind: z.literal('single') }),
  z.strictObject({ kind: z.literal('cross_group'), across: field, min: positiveInt }),
]);

// One test per predicate: `in` / `not_in` (a list of values) stand alone, since "equals x and
// in [...]" would only say the same thing twice or nothing at all.
const valueList = z.array(scalar).min(1).max(100);
const where = z
  .strictObject({
    field,
    equals: scalar.optional(),
    exists: z.boolean().optional(),
    in: valueList.optional(),
    not_in: valueList.optional(),
  })
  .refine(
    (p) =>
      (p.in === undefined && p.not_in === undefined) ||
      (p.equals === undefined && p.exists === undefined && (p.in === undefined || p.not_in === undefined)),
    { message: 'in and not_in stand alone (not with each other, equals or exists)' },
  )
  // The compiled filter tests equals alone: the pair counted events holding the value, the
  // opposite of the exists: false it shows.
  .refine((p) => !(p.equals !== undefined && p.exists === false), {
    message: 'equals and exists: false contradict each other (one test per predicate)',
  });

export const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be snake_case (a-z, 0-9, _)'),
    title: z.string().min(1),
    severity: z.enum(ALERT_SEVERITIES),
    description: z.string().optional(),
    match: z.strictObject({
      categories: z.array(z.string().min(1)).min(1),
      where: z.array(where).optional(),
    }),
    group_by: field.default('user_id'),
    window: positiveDuration,
    quiet: duration.optional(),
    // http(s) only (runbook-url-schema.ts): a javascript: or data: URL there runs script on a click.
    runbook_url: runbookUrlSchema.optional(),
    condition,
  })
  .transform(({ window, quiet, ...rest }) => ({
    ...rest,
    window_ms: window,
    ...(quiet !== undefined ? { quiet_ms: quiet } : {}),
  }));

export type RuleInput = z.input<typeof ruleSchema>;
