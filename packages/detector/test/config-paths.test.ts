// Paths in a config file are read relative to that file (as rule_files in a rule-test file, or
// Prometheus' rule_files), so `--config /etc/llmsec/detector.yaml` with `rules: rules.yaml` reads
// /etc/llmsec/rules.yaml whatever the working directory; paths given as flags stay relative to
// the working directory.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/service/config.ts';

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

  // Before, these paths were relative to the working directory. A config that relied on that
  // must not silently read or write elsewhere after the upgrade (an alerts file that moves is a
  // tail that stops seeing alerts): the start is refused, naming both paths.
  it('refuses a path that exists only relative to the working directory (the old meaning)', () => {
    const { dir, file } = configDir('');
    const cwd = mkdtempSync(join(tmpdir(), 'llmsec-detector-cwd-'));
    mkdirSync(join(cwd, 'out'));
    writeFileSync(join(cwd, 'r.yaml'), 'rules: []\n');
    writeFileSync(join(cwd, 'out', 'alerts.jsonl'), '');
    writeFileSync(join(cwd, 'tok'), 's3cret\n');
    const old = process.cwd();
    process.chdir(cwd);
    try {
      for (const [yaml, field] of [
        ['rules: r.yaml\n', 'rules'],
        ['sinks:\n  alerts: out/alerts.jsonl\n', 'sinks.alerts'],
        ['otlp:\n  auth_token_file: tok\n', 'otlp.auth_token_file'],
      ] as const) {
        writeFileSync(file, yaml);
        expect(() => loadConfig(file, {}, {})).toThrow(ConfigError);
        expect(() => loadConfig(file, {}, {})).toThrow(
          new RegExp(`field "${field.replace('.', '\\.')}": .* relative to this file's directory \\(${dir}/`),
        );
      }
      // A flag over the field: the file's path is not used, so not judged.
      writeFileSync(file, 'rules: r.yaml\n');
      expect(loadConfig(file, { rules: 'mine.yaml' }, {}).rules).toBe('mine.yaml');
      // Once it exists beside the file too (or the path is absolute), that one is read.
      writeFileSync(join(dir, 'r.yaml'), 'rules: []\n');
      writeFileSync(file, 'rules: r.yaml\n');
      expect(loadConfig(file, {}, {}).rules).toBe(join(dir, 'r.yaml'));
      // A config file in the working directory: both meanings are the same file.
      writeFileSync(join(cwd, 'here.yaml'), 'rules: r.yaml\n');
      expect(loadConfig('here.yaml', {}, {}).rules).toBe('r.yaml');
    } finally {
      process.chdir(old);
    }
  });
});
