import { describe, expect, it } from 'vitest';
import {
  MAX_ANNOTATION_CHARS,
  sanitizeLabelName,
  toAlertmanagerAlert,
} from '../src/sinks/alertmanager-payload.ts';
import { alert, resolved } from './sink-support.ts';

const TEMPLATE = 'http://localhost:16686/trace/{trace_id}';

describe('toAlertmanagerAlert', () => {
  it('maps identity to labels and the rest to annotations', () => {
    const am = toAlertmanagerAlert(alert(), { traceUrlTemplate: TEMPLATE, maxTraceLinks: 5 });
    expect(am.labels).toEqual({
      alertname: 'rapid_guardrail_blocks',
      severity: 'alert',
      rule: 'rapid_guardrail_blocks',
      user_id: 'u1',
    });
    expect(am.annotations).toEqual({
      summary: 'Rapid guardrail blocks (user_id=u1)',
      description: '20 guardrail blocks in 5m (threshold 20)',
      alert_id: 'ALR-1',
      runbook_url: 'https://runbooks.example/rapid_guardrail_blocks',
      evidence: 'EVT-000000000001, EVT-000000000002',
      user_ids: 'u1',
      trace_links: 'http://localhost:16686/trace/0af7651916cd43dd8448eb211c80319c',
    });
    expect(am.startsAt).toBe('2026-11-22T10:00:00.000Z');
    expect(am.endsAt).toBeUndefined();
    expect(am.generatorURL).toBe('http://localhost:16686/trace/0af7651916cd43dd8448eb211c80319c');
  });

  it('sets endsAt on resolve, normalised to UTC', () => {
    const am = toAlertmanagerAlert(
      resolved(alert({ starts_at: '2026-11-22T11:00:00+01:00' }), '2026-11-22T12:30:00+01:00'),
      {
        maxTraceLinks: 5,
      },
    );
    expect(am.startsAt).toBe('2026-11-22T10:00:00.000Z');
    expect(am.endsAt).toBe('2026-11-22T11:30:00.000Z');
  });

  it('puts the trigger trace first, without repeats, bounded by maxTraceLinks', () => {
    const trace = (n: number): string => n.toString(16).padStart(32, '0');
    const am = toAlertmanagerAlert(
      alert({ trigger: { trace_id: trace(9) }, trace_ids: [trace(1), trace(9), trace(2), trace(3)] }),
      { traceUrlTemplate: TEMPLATE, maxTraceLinks: 3 },
    );
    expect(am.annotations.trace_links?.split(' ')).toEqual(
      [trace(9), trace(1), trace(2)].map((t) => TEMPLATE.replace('{trace_id}', t)),
    );
    expect(am.generatorURL).toBe(TEMPLATE.replace('{trace_id}', trace(9)));
  });

  it('falls back to generatorUrl without trace ids or template, and omits empty annotations', () => {
    const a = alert({
      trace_ids: undefined,
      trigger: undefined,
      runbook_url: undefined,
      title: undefined,
      evidence: [],
    });
    const am = toAlertmanagerAlert(a, {
      traceUrlTemplate: TEMPLATE,
      generatorUrl: 'http://grafana/d/llmsec',
      maxTraceLinks: 5,
    });
    expect(am.generatorURL).toBe('http://grafana/d/llmsec');
    expect(am.annotations.summary).toBe('rapid_guardrail_blocks (user_id=u1)');
    expect(Object.keys(am.annotations).sort()).toEqual(['alert_id', 'description', 'summary', 'user_ids']);
    expect(toAlertmanagerAlert(a, { maxTraceLinks: 5 }).generatorURL).toBeUndefined();
  });

  it('sanitises group label names and never lets them override the reserved labels', () => {
    const am = toAlertmanagerAlert(
      alert({
        labels: { 'user.id': 'u1', '9lives': 'x', severity: 'spoofed', alertname: 'spoofed', empty: '' },
      }),
      { maxTraceLinks: 5 },
    );
    expect(am.labels).toEqual({
      alertname: 'rapid_guardrail_blocks',
      severity: 'alert',
      rule: 'rapid_guardrail_blocks',
      user_id: 'u1',
      _9lives: 'x',
      group_severity: 'spoofed',
      group_alertname: 'spoofed',
    });
    for (const name of Object.keys(am.labels)) expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
  });

  it('bounds annotation length', () => {
    const am = toAlertmanagerAlert(alert({ description: 'x'.repeat(10_000) }), { maxTraceLinks: 5 });
    expect(am.annotations.description).toHaveLength(MAX_ANNOTATION_CHARS);
    expect(am.annotations.description?.endsWith('…')).toBe(true);
  });
});

describe('sanitizeLabelName', () => {
  it.each([
    ['user_id', 'user_id'],
    ['user.id', 'user_id'],
    ['gen_ai.conversation.id', 'gen_ai_conversation_id'],
    ['1st', '_1st'],
    ['__name__', '_name__'],
    ['', '_'],
    ['ключ', '_'],
  ])('%j -> %j', (input, output) => {
    expect(sanitizeLabelName(input)).toBe(output);
  });
});
