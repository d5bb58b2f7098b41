// Paths in a config file are read relative to that file (as rule_files in a rule-test file, or
// Prometheus' rule_files), so `--config /etc/llmsec/detector.yaml` with `rules: rules.yaml` reads
// /etc/llmsec/rules.yaml whatever the working directory; paths given as flags stay relative to
// the working directory.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/service/config.ts';

function configDir(yaml: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-paths-'));
  const file = join(dir, 'detector.yaml');
  writeFileSync(file, yaml);
  writeFileSync(join(dir, 'token'), 's3cret\n');
  return { dir, file };
}

describe('paths in the config file', () => {
  it('rules, sinks.alerts and otlp.auth_token_file are relative to the file', () => {
    const { dir, file } = configDir(
      'rules: r.yaml\nsinks:\n  alerts: out/alerts.jsonl\notlp:\n  auth_token_file: token\n',
    );
    const config = loadConfig(file, {}, {});
    expect(config.rules).toBe(join(dir, 'r.yaml'));
    expect(config.sinks.alerts).toBe(join(dir, 'out/alerts.jsonl'));
    expect(config.otlp.auth_token).toBe('s3cret');
  });

  it('absolute paths and "-" (stdout) stay as written', () => {
    const { file } = configDir('rules: /etc/llmsec/rules.yaml\nsinks:\n  alerts: "-"\n');
    const config = loadConfig(file, {}, {});
    expect(config.rules).toBe('/etc/llmsec/rules.yaml');
    expect(config.sinks.alerts).toBe('-');
  });

  it('flags override with paths relative to the working directory', () => {
    const { file } = configDir('rules: r.yaml\nsinks:\n  alerts: a.jsonl\n');
    const config = loadConfig(file, { rules: 'mine.yaml', alerts: 'here.jsonl' }, {});
    expect(config.rules).toBe('mine.yaml');
    expect(config.sinks.alerts).toBe('here.jsonl');
  });
});
