import { payloadFingerprint, type SecurityEvent } from '@llmsec/core';

/**
 * The seed design, ported as the issue describes it (its source is not in this repository):
 * every event is appended to its user's history, which is never evicted; on every event every
 * rule re-scans that whole history (the campaign rule re-scans every block of every user);
 * counts are taken over the whole history rather than a window, so a slow attacker adds up to
 * "rapid"; the request-rate windows are measured back from the newest event; and an alert is
 * emitted on every event for which a threshold is exceeded (no incident, no de-duplication).
 * Kept only as the benchmark's baseline.
 */
export interface SeedAlert {
  rule: string;
  user_id: string;
  event_id: string;
}

const MIN = 60_000;

export class SeedDetector {
  readonly history = new Map<string, { event: SecurityEvent; t: number }[]>();
  readonly blocks: { event: SecurityEvent; t: number }[] = [];
  alerts = 0;
  readonly byRule = new Map<string, number>();

  ingest(event: SecurityEvent, t: number): void {
    let h = this.history.get(event.user_id);
    if (!h) {
      h = [];
      this.history.set(event.user_id, h);
    }
    h.push({ event, t });
    const isBlock = event.category === 'guardrail_block' || event.category === 'output_filter_block';
    if (isBlock) this.blocks.push({ event, t });

    // rapid_guardrail_blocks / output_filter_bypass: whole history, no window.
    let guard = 0;
    let out = 0;
    const layers = new Set<string>();
    const lengths: number[] = [];
    for (const { event: e } of h) {
      if (e.category === 'guardrail_block') {
        guard++;
        layers.add(String(e.metadata?.guardrail_layer));
      }
      if (e.category === 'output_filter_block') out++;
      if (e.category === 'guardrail_block' || e.category === 'output_filter_block') {
        const n = e.request_preview?.length ?? 0;
        if (n > 0) lengths.push(n);
      }
    }
    if (guard >= 10) this.alert('rapid_guardrail_blocks', event);
    if (out >= 3) this.alert('output_filter_bypass', event);
    if (layers.size >= 3) this.alert('systematic_enumeration', event);
    if (lengths.length >= 5) {
      const last = lengths.slice(-5);
      if (last.every((v, i) => i === 0 || v >= last[i - 1]!) && last[4]! > 2 * last[0]!)
        this.alert('escalating_complexity', event);
    }

    if (event.category === 'request_completed') {
      // Rate rules: last 5 minutes measured back from the newest event, rescanned in full.
      const recent = h.filter((x) => x.event.category === 'request_completed' && x.t >= t - 5 * MIN);
      if (
        recent.length > 10 &&
        recent.filter((x) => x.event.metadata?.blocked === true).length > recent.length / 2
      ) {
        this.alert('high_block_rate', event);
      }
      const lens = recent.map((x) => Number(x.event.metadata?.prompt_length ?? 0));
      if (recent.length > 5 && lens[0]! > 0 && lens.every((v) => v === lens[0]))
        this.alert('identical_requests', event);
      const last10 = lens.slice(-10);
      if (
        recent.length > 5 &&
        last10.every((v, i) => i === 0 || v >= last10[i - 1]!) &&
        last10.at(-1)! > 3 * last10[0]!
      ) {
        this.alert('escalating_length', event);
      }
      // Baseline: mean and deviation recomputed from the whole history.
      const totals = h
        .filter((x) => x.event.category === 'request_completed' && x.event !== event)
        .map(
          (x) =>
            Number(x.event.metadata?.prompt_tokens ?? 0) + Number(x.event.metadata?.completion_tokens ?? 0),
        );
      if (totals.length >= 20) {
        const mean = totals.reduce((a, b) => a + b, 0) / totals.length;
        const std = Math.sqrt(totals.reduce((a, b) => a + (b - mean) ** 2, 0) / totals.length);
        const v = Number(event.metadata?.prompt_tokens ?? 0) + Number(event.metadata?.completion_tokens ?? 0);
        if (v > 10 * mean && v > mean + 4 * std) this.alert('token_usage_anomaly', event);
      }
    }
    if (event.category === 'system_prompt_leakage') this.alert('system_prompt_leakage', event);

    // coordinated_campaign: every block ever, fingerprinted again on every event.
    if (isBlock && event.request_preview) {
      const fp = payloadFingerprint(event.request_preview);
      const users = new Set<string>();
      for (const b of this.blocks) {
        if (
          b.t >= t - 10 * MIN &&
          b.event.request_preview &&
          payloadFingerprint(b.event.request_preview) === fp
        )
          users.add(b.event.user_id);
      }
      if (users.size >= 5) this.alert('coordinated_campaign', event);
    }
  }

  private alert(rule: string, _event: SecurityEvent): void {
    this.alerts++;
    this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1);
  }
}
