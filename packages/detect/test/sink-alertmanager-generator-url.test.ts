// An alert's generatorURL (traceUrlTemplate with the trigger's trace id, else generatorUrl)
// must be what Alertmanager takes as a URI: it answers 422 to the whole POST otherwise, a final
// answer, so every alert that carries the link is lost while the sink started fine. The sink
// checked the URL with WHATWG's parser, which forgives what Alertmanager (Go's
// url.ParseRequestURI) does not: it strips a leading space, a trailing newline (YAML's `>`
// block keeps one) and a tab or newline inside, and passes a bad %-escape. Refused at
// construction now; the real Alertmanager below answers 422 to each refused one and 200 to
// each taken one, so the two lists are Alertmanager's, not ours.
import { describe, expect, it } from 'vitest';
import { useAlertmanager } from '../../../test/support/alertmanager.ts';
import { AlertmanagerSink } from '../src/sinks/alertmanager.ts';
import { toAlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import { alert } from './sink-support.ts';

const am = useAlertmanager();

const REFUSED = [
  ' http://jaeger:16686/trace/{trace_id}',
  'http://jaeger:16686/trace/{trace_id}\n',
  'http://jaeger:16686/tr\tace/{trace_id}',
  'http://jaeger:16686/%zz/{trace_id}',
  'http://jaeger:16686/trace/{trace_id}#%a',
];
const TAKEN = [
  'http://jaeger:16686/trace/{trace_id}',
  'https://grafana.example.com/explore?left={"queries":[{"query":"{trace_id}"}]}',
  'https://tempo.example.com/a%20b/{trace_id}?x={trace_id}',
];

async function post(template: string): Promise<number> {
  const body = toAlertmanagerAlert(alert(), { traceUrlTemplate: template, maxTraceLinks: 5 });
  const res = await fetch(`${am.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([body]),
  });
  await res.text();
  return res.status;
}

describe('AlertmanagerSink: generatorURL Alertmanager refuses', () => {
  it('refuses such a traceUrlTemplate or generatorUrl at construction, naming the option', () => {
    for (const bad of REFUSED) {
      expect(() => new AlertmanagerSink({ urls: ['http://am:9093'], traceUrlTemplate: bad })).toThrow(
        /^AlertmanagerSink: traceUrlTemplate /,
      );
      const url = bad.replaceAll('{trace_id}', 'abc');
      expect(() => new AlertmanagerSink({ urls: ['http://am:9093'], generatorUrl: url })).toThrow(
        /^AlertmanagerSink: generatorUrl /,
      );
    }
  });

  it('takes trace viewers’ templates', async () => {
    for (const ok of TAKEN) {
      const sink = new AlertmanagerSink({ urls: ['http://am:9093'], traceUrlTemplate: ok, generatorUrl: ok });
      await sink.shutdown();
    }
  });

  it('matches a real Alertmanager: 422 for each refused, 200 for each taken', async () => {
    for (const bad of REFUSED) expect([bad, await post(bad)]).toEqual([bad, 422]);
    for (const ok of TAKEN) expect([ok, await post(ok)]).toEqual([ok, 200]);
  }, 30_000);
});
