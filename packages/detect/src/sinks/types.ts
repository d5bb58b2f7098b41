import type { Alert } from '@llmsec/core';

/**
 * Where alerts go. The engine calls `send` synchronously on the hot path, once per firing and
 * once per resolve (and re-sends are the sink's own business): a sink queues and returns, it
 * never throws and never blocks.
 */
export interface AlertSink {
  readonly name: string;
  send(alert: Alert): void;
  /**
   * Optional: the current state of a firing incident that gained users since it fired (an
   * open incident keeps learning). Not a new firing line: sinks that keep firing alerts to
   * re-send them (Alertmanager) replace their copy; others ignore it. Never throws.
   */
  update?(alert: Alert): void;
  /**
   * Optional: called once by a DetectionEngine on a shared (Redis) state, with what tells which
   * firing alerts the fleet has closed. Sinks that re-send firing alerts (Alertmanager) use it
   * so an incident another process resolved is not re-sent as firing by this one.
   */
  useFleet?(fleet: FleetIncidentCheck): void;
  /**
   * Optional: how many deliveries are queued and not yet delivered or given up on (a copy per
   * destination: an alert queued for two Alertmanagers counts twice). Read when a shutdown
   * times out, to say what each sink is leaving undelivered.
   */
  readonly pendingCount?: number;
  /** Resolves when everything queued so far was delivered or given up on. */
  forceFlush(): Promise<void>;
  /** Flushes, stops timers; later sends are ignored. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * What identifies a firing alert's incident in the shared state: its id, rule and group labels;
 * optionally `revision`, an opaque summary of what the caller's copy shows (its newest evidence,
 * user count, trigger trace), so the check gives a current copy (FleetCheckAnswer.current) only
 * for an alert that changed.
 */
export type FleetAlertRef = Pick<Alert, 'alert_id' | 'rule' | 'labels'> & { revision?: string };

/**
 * Asks the shared detection state (every process of the fleet) about firing alerts this
 * process sent. One read per distinct group, batched; a caller passes a bounded list.
 */
export interface FleetIncidentCheck {
  /**
   * Which of `alerts` the fleet no longer holds open. An alert it cannot tell about (a code
   * rule's, one held only in this process, a state that does not decode) is in neither set.
   * Rejects when the state cannot be read (Redis down): the caller must then treat every
   * alert as still open.
   */
  closed(alerts: readonly FleetAlertRef[]): Promise<FleetCheckAnswer>;
  /**
   * Optional: the fleet's open incidents (those in the shared state, at most the per-rule cap
   * each), as their firing alerts, when the caller holds the fleet's adoption lease (one key per
   * ruleset, taken for `leaseMs` and renewed by each call of its holder); an empty list when
   * another process holds it. A sink re-sends them, so the incidents of a process that left are
   * not ended by Alertmanager when their last copy's endsAt passes. Rejects when the state cannot be read.
   */
  adopt?(leaseMs: number): Promise<Alert[]>;
}

/** What a fleet check found closed, by alert id. */
export interface FleetCheckAnswer {
  /** The group holds no open incident of the rule (resolved by any process, or expired). */
  ended: Set<string>;
  /**
   * The group holds a later open incident of the rule (resolved, then opened again). It has
   * the same labels, so in Alertmanager it is the same alert: a resolve of the old copy would
   * end the live one there. Stop re-sending the old copy, send nothing.
   */
  superseded: Set<string>;
  /**
   * Open ones, with the incident's user ids as the fleet holds them: users who joined through
   * another process reach only that process's sinks as an update, and a sink that did not fire
   * the incident has no copy to update, so the firing process's copy learns them here.
   */
  users: Map<string, string[]>;
  /**
   * Optional: the open ones as their current firing alerts, rebuilt from the fleet's state
   * (users, evidence, trace links as of the read), those whose ref gave no `revision` or
   * another than the state's. A sink re-sends this copy rather than the one it sent at firing,
   * so every process re-sending one incident (the one that fired it, the adoption lease
   * holder) sends the same annotations, not each its own.
   */
  current?: Map<string, Alert>;
}
