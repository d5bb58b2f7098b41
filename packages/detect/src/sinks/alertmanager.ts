import { diag } from '@opentelemetry/api';
import type { Alert } from '@llmsec/core';
import {
  MAX_ANNOTATION_CHARS,
  toAlertmanagerAlert,
  type AlertmanagerAlert,
  type PayloadOptions,
} from './alertmanager-payload.ts';
import { DeliveryQueue } from './delivery-queue.ts';
import { checkGeneratorUrl } from './generator-url.ts';
import { postJson, redactUrl } from './http-post.ts';
import {
  httpUrl,
  positive,
  resolveHttpDelivery,
  type HttpDeliveryOptions,
  type ResolvedHttpDelivery,
} from './http-options.ts';
import { notificationCounter, type RecordNotifications } from './notification-counter.ts';
import { alertRevision } from '../incident.ts';
import type { AlertSink, FleetAlertRef, FleetCheckAnswer, FleetIncidentCheck } from './types.ts';
import { sinkErrors } from './sink-errors.ts';
import { isUnseenResolve, ShownFirings, unseenResolve } from './unseen-firing.ts';

export interface AlertmanagerSinkOptions extends HttpDeliveryOptions {
  /**
   * Alertmanager base URLs, e.g. `http://127.0.0.1:9093` (`/api/v2/alerts` is appended unless
   * already there). With several (an HA cluster), every alert goes to each, independently:
   * the cluster de-duplicates notifications, and one instance down does not hold up the others.
   */
  urls: string[];
  /**
   * How often firing alerts are sent again. Each firing POST carries `endsAt` =
   * max(now, startsAt) + 4 intervals, so Alertmanager keeps the alert active that long whatever
   * its `resolve_timeout`, and ends it by itself once nobody re-sends it (a process that left).
   * Re-sending also restores the alerts after an Alertmanager restart (it forgets them).
   * @default 60_000
   */
  resendIntervalMs?: number;
  /** Alerts per POST. @default 64 */
  maxBatch?: number;
  /** Firing alerts remembered for re-sending; beyond this, an alert is sent once but not re-sent. @default 10_000 */
  maxFiring?: number;
  /** Trace viewer link with `{trace_id}`: the `trace_links` annotation and `generatorURL`. @default none */
  traceUrlTemplate?: string;
  /** `generatorURL` when no trace link can be made. @default none */
  generatorUrl?: string;
  /** Trace links per alert. @default 5 */
  maxTraceLinks?: number;
  /** The `sink` attribute of `llmsec.alert.notifications`. @default 'alertmanager' */
  name?: string;
  /**
   * Whether to use the fleet check a DetectionEngine on a shared (Redis) state offers
   * (AlertSink.useFleet). With it, each re-send first asks the shared state which firing
   * alerts are still open in the fleet: those another process resolved get a resolve (endsAt
   * now) instead of another firing copy, which would make Alertmanager show them active again.
   * A sink used without such an engine never has a check. @default true
   */
  fleetCheck?: boolean;
  /**
   * With the fleet check: whether this sink may adopt the fleet's open incidents. Once per
   * re-send, the one process holding the fleet's adoption lease (a Redis key per ruleset, kept
   * by its holder, taken over by another within two intervals of it leaving) lists the open
   * incidents in Redis and re-sends, from then on, those its sink does not hold, so the
   * incidents of a replica that left (restart, crash, scale-in) stay active in Alertmanager
   * instead of ending when their last copy's endsAt passes; its fleet check resolves them when
   * the fleet closes them. @default true
   */
  adoptFleetIncidents?: boolean;
  /**
   * An incident that resolved before its firing reached an Alertmanager (it was down the whole
   * time, or both came at once, as with a backlog of old events) is posted to it firing, with a
   * `resolved_at` annotation, ending this long after the POST: Alertmanager notifies a resolve
   * only for an alert it notified firing, so a resolve alone paged nobody. Keep it above the
   * route's `group_interval` (an alert joining a group that exists waits for its next flush).
   * @default 600_000
   */
  unseenIncidentHoldMs?: number;
}

/**
 * Sends alerts to Alertmanager's API v2. Keeps the set of firing alerts and re-sends it every
 * `resendIntervalMs`; a resolve goes out once, with `endsAt`, and leaves the set. Each URL has
 * its own bounded queue with retries (see DeliveryQueue): while an instance is down, the latest
 * state of every alert waits for it, so when it is back it receives the firing alerts and the
 * resolves it missed.
 */
export class AlertmanagerSink implements AlertSink {
  readonly name: string;
  private readonly delivery: ResolvedHttpDelivery;
  private readonly payload: PayloadOptions;
  private readonly maxFiring: number;
  private readonly queues: DeliveryQueue<AlertmanagerAlert>[];
  /** The alerts whose firing an Alertmanager of the cluster received. */
  private readonly shown: ShownFirings;
  private readonly unseenHoldMs: number;
  private readonly firing = new Map<string, Firing>();
  private readonly record: RecordNotifications;
  private readonly resendTimer: NodeJS.Timeout;
  private readonly useFleetCheck: boolean;
  private readonly checkTimeoutMs: number;
  private readonly useAdoption: boolean;
  private readonly leaseMs: number;
  private readonly validForMs: number;
  private adopting = false;
  /**
   * The alerts this sink stopped holding (resolved, or superseded) while an adoption listing was
   * out: that listing may have read them open, and adopting them then sent a resolved incident
   * firing again. Emptied when the listing ends; at most maxFiring ids.
   */
  private readonly droppedDuringListing = new Set<string>();
  private fleet: FleetIncidentCheck | undefined;
  private fleetDeclined = false;
  private checking = false;
  private shutdownPromise: Promise<void> | undefined;
  private warnedFiringFull = false;

  constructor(options: AlertmanagerSinkOptions) {
    this.name = options.name ?? 'alertmanager';
    this.delivery = resolveHttpDelivery(options, 'AlertmanagerSink');
    const resendIntervalMs = options.resendIntervalMs ?? 60_000;
    const maxBatch = options.maxBatch ?? 64;
    this.maxFiring = options.maxFiring ?? 10_000;
    this.useFleetCheck = options.fleetCheck ?? true;
    this.useAdoption = options.adoptFleetIncidents ?? true;
    // Renewed every interval by its holder; free again two intervals after the holder left.
    this.leaseMs = 2 * resendIntervalMs;
    // A check that does not answer in time (Redis slow or down) must not hold the re-send up:
    // Alertmanager ends on its own an alert whose last copy's endsAt has passed.
    this.checkTimeoutMs = Math.min(10_000, resendIntervalMs / 2);
    this.payload = {
      traceUrlTemplate: options.traceUrlTemplate,
      generatorUrl: options.generatorUrl,
      maxTraceLinks: options.maxTraceLinks ?? 5,
    };
    positive('AlertmanagerSink', 'resendIntervalMs', resendIntervalMs);
    positive('AlertmanagerSink', 'maxBatch', maxBatch);
    positive('AlertmanagerSink', 'maxFiring', this.maxFiring);
    this.validForMs = VALID_FOR_INTERVALS * resendIntervalMs;
    this.unseenHoldMs = options.unseenIncidentHoldMs ?? 600_000;
    positive('AlertmanagerSink', 'unseenIncidentHoldMs', this.unseenHoldMs);
    if (!Array.isArray(options.urls) || options.urls.length === 0) {
      throw new Error('AlertmanagerSink: urls must list at least one Alertmanager base URL');
    }
    if (this.payload.traceUrlTemplate !== undefined) {
      checkGeneratorUrl(
        'AlertmanagerSink',
        'traceUrlTemplate',
        this.payload.traceUrlTemplate.replaceAll('{trace_id}', 'x'),
      );
      if (!this.payload.traceUrlTemplate.includes('{trace_id}')) {
        throw new Error('AlertmanagerSink: traceUrlTemplate must contain {trace_id}');
      }
    }
    if (this.payload.generatorUrl !== undefined)
      checkGeneratorUrl('AlertmanagerSink', 'generatorUrl', this.payload.generatorUrl);

    this.record = notificationCounter(this.delivery.meter, this.name);
    const { fetch, headers } = this.delivery;
    const shown = new ShownFirings(this.maxFiring);
    this.shown = shown;
    this.queues = options.urls.map((base, i) => {
      const endpoint = alertsEndpoint(httpUrl('AlertmanagerSink', `urls[${i}]`, base));
      return new DeliveryQueue<AlertmanagerAlert>({
        ...this.delivery,
        target: redactUrl(endpoint),
        maxBatch,
        record: this.record,
        deliver: async (batch, signal, keys) => {
          await postJson(
            fetch,
            endpoint,
            JSON.stringify(criticalFirst(this.stamped(batch))),
            headers,
            signal,
          );
          shown.delivered(keys, batch);
        },
      });
    });
    this.resendTimer = setInterval(() => this.resend(), resendIntervalMs);
    this.resendTimer.unref();
  }

  send(alert: Alert): void {
    if (this.shutdownPromise !== undefined) return;
    try {
      const payload = toAlertmanagerAlert(alert, this.payload);
      if (alert.status === 'firing') {
        this.remember(alert, payload);
        for (const queue of this.queues) queue.enqueue(alert.alert_id, payload);
      } else {
        this.drop(alert.alert_id);
        this.enqueueResolve(alert.alert_id, payload);
      }
    } catch (err) {
      sinkErrors.report('alertmanager.send', err);
    }
  }

  /**
   * A firing incident learned users: its re-sent copy carries them from now on, and the
   * change goes out at once (same alert identity, so Alertmanager updates its annotations).
   * On a shared state the incident may be another process's (it fired there, and that sink
   * holds the copy it re-sends): the change still goes out at once, as in one process, but is
   * not kept, and is tried once (not retried past that process's resolve). Dropped here before,
   * Alertmanager showed the firing users until that process's next fleet check, up to one
   * re-send interval later.
   */
  update(alert: Alert): void {
    if (this.shutdownPromise !== undefined || alert.status !== 'firing') return;
    try {
      const held = this.firing.get(alert.alert_id);
      if (held === undefined && this.fleet === undefined) return;
      const payload = toAlertmanagerAlert(alert, this.payload);
      if (held !== undefined) {
        held.payload = payload;
        held.users = alert.user_ids.length;
        held.ref.revision = alertRevision(alert);
      }
      // Another process's incident is posted once, not retried: that process may resolve it
      // meanwhile, and a firing copy posted after the resolve shows the alert active again in
      // Alertmanager until its endsAt. The firing process's re-send carries the users anyway
      // (its fleet check rebuilds its copy), one interval later.
      for (const queue of this.queues) queue.enqueue(alert.alert_id, payload, held === undefined);
    } catch (err) {
      sinkErrors.report('alertmanager.update', err);
    }
  }

  /** See AlertSink.useFleet and the `fleetCheck` option. */
  useFleet(fleet: FleetIncidentCheck): void {
    if (!this.useFleetCheck || this.fleet === fleet || this.fleetDeclined) return;
    if (this.fleet === undefined) {
      this.fleet = fleet;
      return;
    }
    // A second engine's check (one sink shared by two engines): each check knows only its own
    // engine's state, and asked about the other's alerts it finds no incident ("ended") and
    // would resolve live ones. Neither is used: everything is re-sent, as without a check.
    this.fleet = undefined;
    this.fleetDeclined = true;
    diag.warn(
      `llmsec AlertmanagerSink ${this.name}: used by more than one shared-state DetectionEngine; the fleet check is off`,
    );
  }

  /** Number of firing alerts being re-sent. */
  get firingCount(): number {
    return this.firing.size;
  }

  /** Deliveries queued, one per Alertmanager instance an alert still has to reach. */
  get pendingCount(): number {
    let n = 0;
    for (const queue of this.queues) n += queue.size;
    return n;
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.flush(this.delivery.flushTimeoutMs)));
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= (async () => {
      clearInterval(this.resendTimer);
      await Promise.all(this.queues.map((q) => q.shutdown(this.delivery.flushTimeoutMs)));
      this.firing.clear();
    })();
    return this.shutdownPromise;
  }

  /**
   * Each alert's end at the moment of each POST (a retry included), on this clock:
   * - A firing alert: now, or its start when that is later (Alertmanager refuses an endsAt
   *   before startsAt, and event time can be ahead of this clock), plus validForMs, so a copy
   *   that waited in the queue is not posted with a stale end.
   * - A resolve: its own end, but not later than RESOLVE_LEAD_MS before now (its start moved
   *   back with it when later). Alertmanager merges a resolve whose endsAt has not passed on
   *   its clock as a firing copy ending then, and keeps the firing copy's later endsAt: the
   *   alert stayed active up to four intervals after its resolve. An end ahead of this clock
   *   comes from a start ahead of it (the fleet check ends an alert at max(now, start)); one
   *   ahead of Alertmanager's from this clock being ahead of it (an engine with allowed
   *   lateness 0 ends an incident at its now).
   * - An unseen incident's resolve (see enqueueResolve): firing, ending unseenIncidentHoldMs
   *   after now (or its start).
   */
  private stamped(batch: AlertmanagerAlert[]): AlertmanagerAlert[] {
    const now = this.delivery.clock.now();
    const latestEnd = now - RESOLVE_LEAD_MS;
    return batch.map((a) => {
      const startsAt = Date.parse(a.startsAt);
      const unseen = isUnseenResolve(a);
      if (a.endsAt === undefined || unseen) {
        const from = Number.isFinite(startsAt) && startsAt > now ? startsAt : now;
        const validFor = unseen ? this.unseenHoldMs : this.validForMs;
        // A start near the last time a Date holds (event time is the sender's) must not
        // throw here, in every attempt of the batch: the end is cut to that time.
        return { ...a, endsAt: new Date(Math.min(from + validFor, MAX_TIME_MS)).toISOString() };
      }
      if (!(Date.parse(a.endsAt) > latestEnd)) return a;
      const end = new Date(latestEnd).toISOString();
      return startsAt > latestEnd ? { ...a, startsAt: end, endsAt: end } : { ...a, endsAt: end };
    });
  }

  private remember(alert: Alert, payload: AlertmanagerAlert): void {
    const id = alert.alert_id;
    const held = this.firing.get(id);
    if (held !== undefined) {
      held.payload = payload;
      held.users = alert.user_ids.length;
      held.ref.revision = alertRevision(alert);
    } else if (this.firing.size < this.maxFiring) {
      const ref = {
        alert_id: id,
        rule: alert.rule,
        labels: { ...alert.labels },
        revision: alertRevision(alert),
      };
      this.firing.set(id, { payload, ref, users: alert.user_ids.length });
    } else if (!this.warnedFiringFull) {
      this.warnedFiringFull = true;
      diag.warn(
        `llmsec AlertmanagerSink: more than ${this.maxFiring} alerts firing; the excess is sent once, not re-sent`,
      );
    }
  }

  /**
   * Without a fleet check (or while the last one is still out), re-sends every firing alert.
   * With one, asks it first (at most maxFiring alerts, one check at a time), resolves what the
   * fleet closed and re-sends the rest; a check that fails or takes longer than checkTimeoutMs
   * re-sends everything (never resolve on a failed check), and a late answer still resolves.
   */
  private resend(): void {
    const fleet = this.fleet;
    if (fleet !== undefined) this.adopt(fleet);
    if (fleet === undefined || this.checking || this.firing.size === 0) {
      this.resendFiring();
      return;
    }
    this.checking = true;
    let sent = false;
    const sendOnce = (): void => {
      if (sent) return;
      sent = true;
      clearTimeout(timer);
      this.resendFiring();
    };
    const timer = setTimeout(sendOnce, this.checkTimeoutMs);
    timer.unref();
    const refs = [...this.firing.values()].map((f) => f.ref);
    (async () => {
      try {
        this.resolveClosed(await fleet.closed(refs));
      } catch (err) {
        diag.debug(
          `llmsec AlertmanagerSink: fleet check failed, re-sending every firing alert: ${String(err)}`,
        );
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        this.checking = false;
        sendOnce();
      });
  }

  /**
   * When this process holds the fleet's adoption lease: the fleet's open incidents this sink
   * does not hold are sent now and kept for re-sending (so checked, and resolved when the fleet
   * closes them). The copy is the alert the firing process sent, rebuilt from the shared state
   * (same labels and startsAt: the same Alertmanager alert; the users as of now). A failed
   * listing (Redis down) adopts nothing. One listing at a time.
   */
  private adopt(fleet: FleetIncidentCheck): void {
    if (!this.useAdoption || fleet.adopt === undefined || this.adopting) return;
    this.adopting = true;
    (async () => {
      try {
        const open = await fleet.adopt!(this.leaseMs);
        if (this.shutdownPromise !== undefined) return;
        for (const alert of open) {
          if (this.firing.has(alert.alert_id) || this.droppedDuringListing.has(alert.alert_id)) continue;
          if (this.firing.size >= this.maxFiring) break;
          const payload = toAlertmanagerAlert(alert, this.payload);
          this.remember(alert, payload);
          for (const queue of this.queues) queue.enqueue(alert.alert_id, payload);
        }
      } catch (err) {
        diag.debug(`llmsec AlertmanagerSink: adopting the fleet's open incidents failed: ${String(err)}`);
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        this.adopting = false;
        this.droppedDuringListing.clear();
      });
  }

  /** Stops holding (re-sending) an alert; remembered while an adoption listing is out (see droppedDuringListing). */
  private drop(id: string): void {
    this.firing.delete(id);
    if (this.adopting && this.droppedDuringListing.size < this.maxFiring) this.droppedDuringListing.add(id);
  }

  private resendFiring(): void {
    if (this.shutdownPromise !== undefined) return;
    try {
      for (const [id, { payload }] of this.firing) {
        for (const queue of this.queues) queue.enqueue(id, payload);
      }
    } catch (err) {
      sinkErrors.report('alertmanager.resend', err);
    }
  }

  /**
   * The fleet ended these (another process resolved them, or their state expired): a resolve
   * goes out for each, ending now (posted 5 s back: see stamped); superseded ones are dropped
   * without one. The resolving process sent its own with the incident's event-time end; this
   * one reaches an Alertmanager that missed that (down, or restarted), and Alertmanager keeps
   * the later endsAt of two resolves, so at worst the end moves by up to one re-send interval.
   */
  private resolveClosed({ ended, superseded, users, current }: FleetCheckAnswer): void {
    if (this.shutdownPromise !== undefined) return;
    // The incident as the fleet holds it now: every process re-sending it (the one that fired
    // it, the adoption lease holder) re-sends this same copy, not each its own (the firing
    // copy's evidence and trigger link against the adopted one's, alternating in Alertmanager
    // at each re-send). Users only join an open incident: a copy with fewer users than held is
    // an answer read before this process's own update() and is not taken.
    for (const [id, alert] of current ?? []) {
      const held = this.firing.get(id);
      if (held === undefined || alert.user_ids.length < held.users) continue;
      held.users = alert.user_ids.length;
      held.payload = toAlertmanagerAlert(alert, this.payload);
      held.ref.revision = alertRevision(alert);
    }
    // Users who joined through another process (its sink had no copy to update): the copy
    // re-sent from now on lists them, as this process's own update() would have. (Only for a
    // check that gives no current copy.)
    for (const [id, list] of users) {
      if (current?.has(id) === true) continue;
      const held = this.firing.get(id);
      // Users only join an open incident: a list no longer than the copy's is an older answer
      // (this process's own update came after the read), not news.
      if (held === undefined || list.length <= held.users) continue;
      held.users = list.length;
      let text = list.join(', ');
      if (text.length > MAX_ANNOTATION_CHARS) text = `${text.slice(0, MAX_ANNOTATION_CHARS - 1)}…`;
      held.payload = { ...held.payload, annotations: { ...held.payload.annotations, user_ids: text } };
    }
    // A later incident of the same rule and group holds the same Alertmanager alert (labels):
    // a resolve of this copy would end the live one there. Only stop re-sending it.
    for (const id of superseded) this.drop(id);
    const now = Date.now();
    for (const id of ended) {
      const held = this.firing.get(id);
      if (held === undefined) continue;
      this.drop(id);
      const startsAt = Date.parse(held.payload.startsAt);
      const endsAt = new Date(Number.isFinite(startsAt) && startsAt > now ? startsAt : now).toISOString();
      this.enqueueResolve(id, { ...held.payload, endsAt });
    }
  }

  /**
   * A resolve, per Alertmanager: where it would replace a firing still waiting in that queue
   * and no Alertmanager of the cluster received the firing, it goes as an unseen incident (see
   * `unseenIncidentHoldMs`): a resolve alone pages nobody. Once one instance received it, the
   * others get the plain resolve: the cluster shares its notification log, so a firing copy
   * reaching an instance that was down would page a resolved incident again. A firing in
   * flight counts as not received: if it lands, the incident shows the hold longer than it
   * lasted, nothing lost.
   */
  private enqueueResolve(id: string, resolve: AlertmanagerAlert): void {
    const neverShown = !this.shown.has(id);
    let unseen: AlertmanagerAlert | undefined;
    for (const queue of this.queues) {
      const waiting = queue.peek(id);
      const firingWaits = waiting !== undefined && waiting.endsAt === undefined;
      queue.enqueue(id, neverShown && firingWaits ? (unseen ??= unseenResolve(resolve)) : resolve);
    }
  }
}

/** A firing alert kept for re-sending, and what the fleet check needs to find its incident. */
interface Firing {
  payload: AlertmanagerAlert;
  readonly ref: FleetAlertRef;
  /** How many user ids the payload lists (before the annotation's cut). */
  users: number;
}

/**
 * A firing POST's endsAt is this many re-send intervals ahead. Without an endsAt, Alertmanager
 * ends an alert resolve_timeout (default 5m) after it last heard of it: an interval above that
 * flapped every alert to resolved and back, and a fleet's hand-over of a left replica's
 * incidents (up to three intervals after the adoption lease holder's last re-send: its renewal
 * lasts two, the next process re-sends within one) let Alertmanager resolve them in between
 * whenever three intervals exceeded resolve_timeout. Four intervals cover that hand-over with
 * one to spare (for the listing and the POST), whatever resolve_timeout is; Prometheus gives its
 * alerts the same 4x (rules/alerting.go: ValidUntil = ts + 4 * max(resend_delay, interval)).
 * The cost: a copy nobody re-sends any more (its process crashed and nothing adopted it)
 * stays active up to four intervals.
 */
const VALID_FOR_INTERVALS = 4;

/**
 * A resolve is posted ending at least this long before this process's clock (see stamped):
 * Alertmanager ends an alert at once only for a resolve whose endsAt has passed on its own
 * clock. This much clock skew between the detector and Alertmanager is covered, as the
 * detector's default allowed lateness (5 s) already covers it for engine resolves, which end
 * in event time behind the clock by that lateness and are not moved. The cost: a resolve that
 * ends later than this is posted up to 5 s early.
 */
const RESOLVE_LEAD_MS = 5_000;

/** The largest time a Date holds (ECMA-262 time values). */
const MAX_TIME_MS = 8.64e15;

const SEVERITY_ORDER: Readonly<Record<string, number>> = { critical: 0, alert: 1, warning: 2 };

/**
 * Most severe first within a POST. llmsec alerts usually start in the past (event time), so
 * Alertmanager skips group_wait and flushes a new group at once; its inhibitor indexes source
 * alerts concurrently. Posting a critical alert before the warnings it inhibits narrows that
 * race (it cannot close it: that is inside Alertmanager).
 */
function criticalFirst(batch: AlertmanagerAlert[]): AlertmanagerAlert[] {
  const rank = (a: AlertmanagerAlert): number => SEVERITY_ORDER[a.labels.severity ?? ''] ?? 3;
  return [...batch].sort((a, b) => rank(a) - rank(b));
}

/** `http://am:9093` and `http://am:9093/prefix/` become `…/api/v2/alerts`; a full endpoint is kept. */
function alertsEndpoint(base: URL): string {
  const path = base.pathname.replace(/\/+$/, '');
  if (path.endsWith('/api/v2/alerts')) return base.toString();
  const url = new URL(base.toString());
  url.pathname = `${path}/api/v2/alerts`;
  return url.toString();
}
