import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';
import { parseHostPort } from '../src/service/config-schema.ts';

const { dir, file } = configDir('llmsec-detector-config-');
const error = configError;

describe('loadConfig', () => {
  it('gives the documented defaults with no file and no flags', () => {
    const c = loadConfig(undefined);
    expect(c.otlp).toEqual({ grpc: '127.0.0.1:4317', http: '127.0.0.1:4318' });
    expect(c).toMatchObject({
      state: 'memory',
      allowed_lateness: 5000,
      tick_interval: 1000,
      queue_capacity: 200_000,
      shutdown_timeout: 10_000,
      log_level: 'info',
      sinks: {
        alertmanager: [],
        alertmanager_resend_interval: 60_000,
        alertmanager_adopt_fleet_incidents: true,
        alertmanager_unseen_hold: 600_000,
        webhook: [],
      },
    });
    expect(c.genai.user_attributes).toContain('traceloop.association.properties.user_id');
    expect(c.enforcement).toBeUndefined();
  });

  it('reads every section of a YAML file, durations included', () => {
    const c = loadConfig(
      file(
        'full.yaml',
        `
otlp: { grpc: "0.0.0.0:4317", http: "0.0.0.0:4318", max_body_bytes: 1048576 }
rules: /etc/llmsec/rules.yaml
allowed_lateness: 30s
sinks:
  alertmanager: [http://am-0:9093, http://am-1:9093]
  alerts: "-"
  otlp_alerts: http://collector:4318/v1/logs
genai: { user_attributes: [app.user, user.id] }
enforcement:
  redis: redis://redis:6379
  thresholds: { blocked_at: 30, half_life: 20m }
  actions:
    - { rule: system_prompt_leakage, action: ban }
    - { severity: critical, action: block, duration: 15m }
    - { severity: alert, action: throttle, duration: 5m }
`,
      ),
    );
    expect(c.otlp.max_body_bytes).toBe(1048576);
    expect(c.allowed_lateness).toBe(30_000);
    expect(c.sinks.alertmanager).toHaveLength(2);
    expect(c.genai.user_attributes).toEqual(['app.user', 'user.id']);
    expect(c.enforcement!.thresholds).toEqual({ blocked_at: 30, half_life: 1_200_000 });
    expect(c.enforcement!.actions[1]).toEqual({ severity: 'critical', action: 'block', duration: 900_000 });
  });

  it('lets flags override the file', () => {
    const p = file(
      'base.yaml',
      'otlp: { http: "127.0.0.1:9000" }\nsinks: { alertmanager: [http://a:9093] }\n',
    );
    const c = loadConfig(p, {
      otlpHttp: '0.0.0.0:4318',
      alertmanager: ['http://b:9093'],
      queueCapacity: '50',
    });
    expect(c.otlp.http).toBe('0.0.0.0:4318');
    expect(c.otlp.grpc).toBe('127.0.0.1:4317');
    expect(c.sinks.alertmanager).toEqual(['http://b:9093']);
    expect(c.queue_capacity).toBe(50);
  });

  it('names the file and field, or the flag, of every problem', () => {
    expect(error(() => loadConfig(file('a.yaml', 'otlp: { http: "localhost" }\n')))).toBe(
      `${dir}/a.yaml: field "otlp.http": want HOST:PORT (e.g. 127.0.0.1:4318, 0.0.0.0:4317, [::1]:4318)`,
    );
    expect(error(() => loadConfig(file('b.yaml', 'sinks: { alertmanagers: [x] }\n')))).toBe(
      `${dir}/b.yaml: unknown field "alertmanagers" in "sinks"`,
    );
    expect(error(() => loadConfig(file('c.yaml', 'allowed_lateness: soon\n')))).toMatch(
      /^\/.+\/c\.yaml: field "allowed_lateness": bad duration "soon"/,
    );
    expect(error(() => loadConfig(undefined, { state: 'postgres://x' }))).toBe(
      '--state: want "memory" or a redis:// / rediss:// URL',
    );
    expect(error(() => loadConfig(undefined, { queueCapacity: 'many' }))).toBe(
      '--queue-capacity: want a whole number in decimal digits, got "many"',
    );
    for (const text of ['0x10', '0b1', '1e3', ' 100', '100 ', '1.5', '']) {
      expect(error(() => loadConfig(undefined, { maxOpenIncidentsPerRule: text }))).toBe(
        `--max-open-incidents-per-rule: want a whole number in decimal digits, got ${JSON.stringify(text)}`,
      );
    }
    expect(loadConfig(undefined, { queueCapacity: '250' }).queue_capacity).toBe(250);
    // Upper bounds: an hour of lateness (alerts wait that long) and 10,000,000 queued events.
    expect(error(() => loadConfig(file('l.yaml', 'allowed_lateness: 100d\n')))).toBe(
      `${dir}/l.yaml: field "allowed_lateness": must be between 0 and 1h (events wait that long for their alerts)`,
    );
    expect(error(() => loadConfig(undefined, { allowedLateness: '2h' }))).toMatch(
      /^--allowed-lateness: must be between 0 and 1h/,
    );
    expect(loadConfig(undefined, { allowedLateness: '1h' }).allowed_lateness).toBe(3_600_000);
    expect(error(() => loadConfig(undefined, { queueCapacity: '1000000000000' }))).toBe(
      '--queue-capacity: at most 10000000 (events held in memory)',
    );
    expect(loadConfig(undefined, { queueCapacity: '10000000' }).queue_capacity).toBe(10_000_000);
    // Adoption of the fleet's open incidents: on unless the file turns it off; a boolean only.
    expect(
      loadConfig(file('ad.yaml', 'sinks: { alertmanager_adopt_fleet_incidents: false }\n')).sinks
        .alertmanager_adopt_fleet_incidents,
    ).toBe(false);
    expect(
      error(() => loadConfig(file('ad2.yaml', 'sinks: { alertmanager_adopt_fleet_incidents: 1 }\n'))),
    ).toMatch(/^\/.+\/ad2\.yaml: field "sinks\.alertmanager_adopt_fleet_incidents"/);
    // The Alertmanager re-send interval: 5s to 1h, from the file or the flag.
    expect(
      loadConfig(file('r.yaml', 'sinks: { alertmanager_resend_interval: 15s }\n')).sinks
        .alertmanager_resend_interval,
    ).toBe(15_000);
    expect(
      loadConfig(undefined, { alertmanagerResendInterval: '5s' }).sinks.alertmanager_resend_interval,
    ).toBe(5_000);
    expect(error(() => loadConfig(undefined, { alertmanagerResendInterval: '4s' }))).toMatch(
      /^--alertmanager-resend-interval: must be between 5s and 1h/,
    );
    expect(error(() => loadConfig(file('r2.yaml', 'sinks: { alertmanager_resend_interval: 2h }\n')))).toMatch(
      /^\/.+\/r2\.yaml: field "sinks\.alertmanager_resend_interval": must be between 5s and 1h/,
    );
    // How long an incident Alertmanager never saw firing is shown firing: 1s to 24h.
    expect(
      loadConfig(file('h.yaml', 'sinks: { alertmanager_unseen_hold: 10m }\n')).sinks.alertmanager_unseen_hold,
    ).toBe(600_000);
    expect(error(() => loadConfig(file('h2.yaml', 'sinks: { alertmanager_unseen_hold: 0s }\n')))).toMatch(
      /^\/.+\/h2\.yaml: field "sinks\.alertmanager_unseen_hold": must be between 1s and 24h/,
    );
    expect(
      error(() =>
        loadConfig(
          file(
            'd.yaml',
            'enforcement: { redis: "redis://r:6379", actions: [{ severity: alert, action: block }] }\n',
          ),
        ),
      ),
    ).toBe(`${dir}/d.yaml: field "enforcement.actions.0.duration": block needs a duration`);
    expect(
      error(() =>
        loadConfig(file('e.yaml', 'enforcement: { redis: "redis://r", actions: [{ action: warn }] }\n')),
      ),
    ).toBe(
      `${dir}/e.yaml: field "enforcement.actions.0": needs severity or rule (what the action applies to)`,
    );
    expect(
      error(() =>
        loadConfig(
          file(
            'n.yaml',
            'enforcement: { redis: "redis://r", actions: [{ rule: x, action: none, duration: 1m }] }\n',
          ),
        ),
      ),
    ).toBe(
      `${dir}/n.yaml: field "enforcement.actions.0.duration": none takes no duration (it acts on nobody)`,
    );
    expect(error(() => loadConfig(file('f.yaml', '- a list\n')))).toBe(
      `${dir}/f.yaml: want a mapping at the top level`,
    );
    expect(error(() => loadConfig(file('g.yaml', 'a: [\n')))).toMatch(/^\/.+\/g\.yaml: not valid YAML/);
    expect(error(() => loadConfig(file('h.yaml', 'log_level: info\n---\nlog_level: debug\n')))).toBe(
      `${dir}/h.yaml: not valid YAML: more than one YAML document (a second one starts at line 2): the config must be one document`,
    );
    expect(error(() => loadConfig(join(dir, 'missing.yaml')))).toMatch(/^\/.+\/missing\.yaml: cannot read/);
  });

  it('parses HOST:PORT including IPv6 and rejects bad ports', () => {
    expect(parseHostPort('0.0.0.0:4317')).toEqual({ host: '0.0.0.0', port: 4317 });
    expect(parseHostPort('[::1]:4318')).toEqual({ host: '::1', port: 4318 });
    expect(parseHostPort('detector:0')).toEqual({ host: 'detector', port: 0 });
    expect(parseHostPort('h:70000')).toBeUndefined();
    expect(parseHostPort(':80')).toBeUndefined();
  });
});
