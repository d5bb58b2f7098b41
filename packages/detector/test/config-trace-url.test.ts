// sinks.trace_url_template becomes each Alertmanager alert's generatorURL (the first trace's
// link). Alertmanager 0.25 answers 422 to a whole POST whose generatorURL is not a URI (a
// relative 'trace/{trace_id}', a bad escape such as '%zz'; checked against a real one), and a
// 4xx is final: every alert with a trace was lost, while the detector had started fine. A
// template without {trace_id} linked every alert to the same page. Both refused at start.
import { describe, expect, it } from 'vitest';
import { configDir, configError } from './config-files.ts';
import { loadConfig } from '../src/service/config.ts';

const { dir, file } = configDir('llmsec-detector-config-trace-url-');
const NO_ENV = {};
const load = (template: string) =>
  loadConfig(file('t.yaml', `sinks: { trace_url_template: ${JSON.stringify(template)} }\n`), {}, NO_ENV);

describe('loadConfig: sinks.trace_url_template', () => {
  it('refuses a template that does not make an http(s) URL, or has no {trace_id}', () => {
    for (const bad of [
      'trace {trace_id}',
      'trace/{trace_id}',
      'http://jaeger:16686/%zz/{trace_id}',
      'http://jaeger:16686/search',
      // WHATWG's URL parser strips these; Alertmanager answers 422 (a YAML '>' block ends in \n).
      ' http://jaeger:16686/trace/{trace_id}',
      'http://jaeger:16686/trace/{trace_id}\n',
      'http://jaeger:16686/tr\tace/{trace_id}',
    ]) {
      expect(configError(() => load(bad))).toBe(
        `${dir}/t.yaml: field "sinks.trace_url_template": want an http(s):// URL holding {trace_id}, e.g. http://jaeger:16686/trace/{trace_id}`,
      );
    }
  });

  it('takes trace viewers’ templates', () => {
    for (const ok of [
      'http://localhost:16686/trace/{trace_id}',
      'https://grafana.example.com/explore?left={"queries":[{"query":"{trace_id}"}]}',
      'https://tempo.example.com/a%20b/{trace_id}?x={trace_id}',
    ]) {
      expect(load(ok).sinks.trace_url_template).toBe(ok);
    }
  });
});
