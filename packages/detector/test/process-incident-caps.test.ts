// `llmsec detector` with a bad incident cap, in the file or as a flag: exit 2, the field or flag named.
import { describe, expect, it } from 'vitest';
import { runDetectorCli, tempDir, writeConfig } from './process-support.ts';

describe('llmsec detector incident caps (process)', () => {
  it('exits 2 naming the field or flag of a bad cap', async () => {
    const bad = writeConfig(tempDir(), 'caps.json', { max_open_incidents_per_rule: 0 });
    const r1 = await runDetectorCli(['--config', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('caps.json: field "max_open_incidents_per_rule": Too small');
    const r2 = await runDetectorCli(['--max-overflow-incidents-per-rule=-1']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--max-overflow-incidents-per-rule: Too small');
    const r3 = await runDetectorCli(['--max-open-incidents-per-rule', 'lots']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(
      '--max-open-incidents-per-rule: want a whole number in decimal digits, got "lots"',
    );
    // Number() took hexadecimal, exponents and padding: 16, 1000 and 100 incidents, silently.
    for (const text of ['0x10', '1e3', ' 100']) {
      const r = await runDetectorCli(['--queue-capacity', text]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--queue-capacity: want a whole number in decimal digits, got "${text}"`);
    }
    // Six CLI processes from the TypeScript sources, one after the other (~1.4 s of CPU each; 5 s
    // at load 10 on 2 cores): the 30 s default was shorter than that on a loaded host.
  }, 90_000);
});
