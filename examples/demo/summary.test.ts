import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import type { Persona } from '../simulator/personas.ts';
import { summarise } from './summary.ts';

/** The demo's verdicts for a benign persona with `notices`: alerts about what happened to it. */
const reader: Persona = {
  name: 'reader',
  kind: 'benign',
  description: 'd',
  expectedRules: [],
  notices: ['indirect_prompt_injection'],
  users: ['r1'],
  requests: [],
};
const firing = (rule: string): Alert => ({
  alert_id: `ALR-${rule}`,
  rule,
  severity: 'alert',
  status: 'firing',
  labels: {},
  user_ids: ['r1'],
  starts_at: '2026-12-05T00:00:00.000Z',
  description: 'x',
  evidence: [],
});

describe('demo summary: benign notices', () => {
  it('a benign persona is not flagged by its notice, and is when the notice is missing or another rule names it', () => {
    const judge = (alerts: Alert[]) => summarise([reader], new Map(), alerts);
    expect(judge([firing('indirect_prompt_injection')])).toMatchObject({ benignFlagged: [] });
    expect(judge([firing('indirect_prompt_injection')]).verdicts[0]!.ok).toBe(true);
    expect(judge([]).verdicts[0]!.ok).toBe(false);
    expect(judge([]).benignFlagged).toEqual(['indirect_prompt_injection: expected for reader, not raised']);
    const both = judge([firing('indirect_prompt_injection'), firing('rapid_guardrail_blocks')]);
    expect(both.verdicts[0]!.ok).toBe(false);
    expect(both.benignFlagged).toEqual(['rapid_guardrail_blocks: r1']);
  });
});
