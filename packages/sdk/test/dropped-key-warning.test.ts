import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness } from './harness.ts';

/**
 * The warning for dropped metadata keys names the caller's keys (event-builder.ts warnDropped).
 * They are the caller's input: a key is named cut to the key cap and without control characters.
 */
const warnings: string[] = [];
const recordingLogger: DiagLogger = {
  error: (m) => warnings.push(m),
  warn: (m) => warnings.push(m),
  info: () => {},
  debug: () => {},
  verbose: () => {},
};
let close: (() => Promise<void>) | undefined;
beforeEach(() => {
  warnings.length = 0;
  diag.setLogger(recordingLogger, DiagLogLevel.WARN);
});
afterEach(async () => {
  diag.disable();
  await close?.();
  close = undefined;
});

describe('dropped metadata keys in the warning', () => {
  it('are cut to the key cap and show no control characters, on both metadata paths', () => {
    const h = createHarness();
    close = h.close;
    const huge = `huge_${'k'.repeat(1_000_000)}`;
    // Untyped on purpose: values the types refuse are what gets a key dropped.
    h.events.emit('guardrail_block', {
      userId: 'u',
      metadata: { [huge]: { nested: true }, 'two\nllmsec: forged line\r': () => 1, kept: 'v' } as never,
    });
    // request_completed's own literal path reports its drops through the same function.
    h.events.emit('request_completed', {
      userId: 'u',
      metadata: { model: 'm', [`${huge}_2`]: { o: 1 } } as never,
    });
    const dropped = warnings.filter((w) => w.includes('metadata keys dropped'));
    expect(dropped).toHaveLength(2);
    for (const w of dropped) {
      expect(w.length).toBeLessThan(400);
      expect(w).not.toMatch(/[\n\r]/);
      expect(w).toContain(`huge_${'k'.repeat(59)}`);
    }
    expect(dropped[0]).toContain('two?llmsec: forged line?');
  });
});
