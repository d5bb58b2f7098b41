import { parseArgs } from 'node:util';
import {
  ConfigError,
  createJsonLogger,
  loadConfig,
  logDiagnostics,
  startDetector,
  type ConfigFlags,
  type Logger,
} from '@llmsec/detector/service';
import { RuleFileError } from '@llmsec/detect';
import { joinDashValues } from '../dash-values.ts';
import {
  endProcessWhenDone,
  setStderrErrorHandler,
  setStdoutErrorHandler,
  UsageError,
  type CliIO,
  type Command,
} from '../io.ts';

const USAGE = `usage: llmsec detector [--config FILE] [options]

The llmsec detection service behind the OpenTelemetry Collector: receives OTLP (llmsec log
records and span events, GenAI client spans of any instrumentation), runs the detection rules,
sends alerts, and optionally writes enforcement into the rate limiter's Redis. Runs until
SIGTERM / SIGINT, then stops accepting, drains, flushes the sinks and exits (0 when drained
within --shutdown-timeout, 1 when it had to give up). Flags override the config file.

  --config FILE              YAML config file with every option (see the detector README)
  --otlp-grpc HOST:PORT      OTLP/gRPC listen address (default 127.0.0.1:4317)
  --otlp-http HOST:PORT      OTLP/HTTP listen address, also /-/healthy, /-/ready, /metrics
                             (default 127.0.0.1:4318); 0.0.0.0:4318 inside a container
  --rules FILE               rule file (YAML or JSON); default: the built-in rules
  --state memory|URL         detection state: memory (default), or redis://… shared by replicas
  --alertmanager URL         Alertmanager base URL (repeatable: every URL gets every alert)
  --alertmanager-resend-interval DUR
                             how often firing alerts are re-sent to Alertmanager (default
                             1m, 5s to 1h; each POST holds alerts active 4 intervals)
  --webhook URL              POST each alert as JSON (repeatable)
  --alerts FILE|-            append alert JSONL to FILE, or "-" for stdout
  --otlp-alerts URL          OTLP/HTTP logs URL for alert log records (and enforcement
                             events), e.g. http://collector:4318/v1/logs
  --allowed-lateness DUR     out-of-order tolerance and alerting delay (default 5s)
  --queue-capacity N         events held for the engine before exports get 429 (default 200000)
  --max-open-incidents-per-rule N
                             open incidents per rule, the fleet's with --state redis://
                             (default 10000; give every replica the same)
  --max-overflow-incidents-per-rule N
                             overflow incidents per rule in this replica once the cap is
                             reached (default 1000; 0: refused incidents only counted)
  --shutdown-timeout DUR     longest drain on SIGTERM (default 10s)
  --log-level LEVEL          debug|info|warn|error (default info); JSON lines on stderr
  --auth-token-file FILE     require "Authorization: Bearer <token>" on every export, the
                             token read from FILE (or set $LLMSEC_DETECTOR_AUTH_TOKEN, or
                             $LLMSEC_DETECTOR_AUTH_TOKEN_FILE)
  -h, --help                 this text

Enforcement (alert severity or rule → warn / throttle / block / ban in the rate limiter's
Redis) and the receivers' caps (otlp.max_inflight_bytes, otlp.limits, ...) are configured in
the file only: see the detector README.

Exit codes: 0 stopped cleanly, 1 runtime failure (e.g. port in use) or drain timeout, 2 bad
usage or config.`;

const SERVICE = 'llmsec-detector';

/** `llmsec detector`: a thin layer over @llmsec/detector's startDetector. */
export const command: Command = {
  summary: 'run the OTLP detection service (behind an OpenTelemetry Collector)',
  async run(argv: string[], io: CliIO): Promise<number> {
    const parsed = parse(argv);
    if (parsed === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // Once the configuration is read, everything this command writes to stderr goes through the
    // service's own JSON logger (passed to startDetector): stderr is the service's log, one JSON
    // object per line, and a plain-text line there is a parse error for the log shipper.
    let log: Logger | undefined;
    // stdout carries only the `--alerts -` sink: a reader that goes away ends that sink, not the
    // service (its other sinks, enforcement and the drain on SIGTERM go on). Said once.
    let stdoutGone = false;
    setStdoutErrorHandler((err) => {
      if (stdoutGone) return;
      stdoutGone = true;
      const msg = 'stdout closed: alert lines to "-" are no longer written';
      if (log !== undefined) log.warn(msg, { error: err.code ?? err.message });
      else io.stderr.write(`llmsec detector: ${msg} (${err.code ?? err.message})\n`);
    });
    // stderr carries only the log: with its reader gone (a log shipper that died) there is nowhere
    // to say so, but the service, and the drain that flushes held alerts on SIGTERM, go on.
    setStderrErrorHandler(() => undefined);
    // Listening before the start: it can wait seconds for an unreachable state Redis, and a
    // SIGTERM then (a rollout) must stop it as documented, once started, not kill it outright.
    let stopListening = (): void => {};
    const signal = new Promise<string>((resolve) => {
      const on = (s: string) => () => {
        stopListening();
        resolve(s);
      };
      const term = on('SIGTERM');
      const int = on('SIGINT');
      stopListening = () => {
        process.off('SIGTERM', term);
        process.off('SIGINT', int);
      };
      process.on('SIGTERM', term);
      process.on('SIGINT', int);
    });
    let detector: Awaited<ReturnType<typeof startDetector>>;
    try {
      const config = loadConfig(parsed.config, parsed.flags);
      log = createJsonLogger({ stream: io.stderr, level: config.log_level, base: { service: SERVICE } });
      // The sinks' "delivery to ... failed, retrying" and the error funnel's reports go to diag.
      logDiagnostics(log, config.log_level);
      detector = await startDetector({ config, logger: log, serviceName: SERVICE });
    } catch (err) {
      stopListening();
      // A usage mistake is told as the other commands tell theirs, before any service runs.
      if (err instanceof ConfigError || err instanceof RuleFileError) {
        io.stderr.write(`llmsec detector: ${err.message}\n`);
        return 2;
      }
      if (log === undefined) throw err;
      log.error('detector failed to start', { error: err });
      return 1;
    }
    log.info('signal received: draining', { signal: await signal });
    if (await detector.shutdown()) return 0;
    endProcessWhenDone(); // gave up: what is still in flight is dropped, not waited for
    return 1;
  },
};

function parse(argv: string[]): { config: string | undefined; flags: ConfigFlags } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinDashValues(argv),
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        'otlp-grpc': { type: 'string' },
        'otlp-http': { type: 'string' },
        rules: { type: 'string' },
        state: { type: 'string' },
        alertmanager: { type: 'string', multiple: true },
        'alertmanager-resend-interval': { type: 'string' },
        webhook: { type: 'string', multiple: true },
        alerts: { type: 'string' },
        'otlp-alerts': { type: 'string' },
        'allowed-lateness': { type: 'string' },
        'queue-capacity': { type: 'string' },
        'max-open-incidents-per-rule': { type: 'string' },
        'max-overflow-incidents-per-rule': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'auth-token-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  const flags: ConfigFlags = {};
  const set = <K extends keyof ConfigFlags>(k: K, v: ConfigFlags[K] | undefined): void => {
    if (v !== undefined) flags[k] = v;
  };
  set('otlpGrpc', values['otlp-grpc']);
  set('otlpHttp', values['otlp-http']);
  set('rules', values.rules);
  set('state', values.state);
  set('alertmanager', values.alertmanager);
  set('alertmanagerResendInterval', values['alertmanager-resend-interval']);
  set('webhook', values.webhook);
  set('alerts', values.alerts);
  set('otlpAlerts', values['otlp-alerts']);
  set('allowedLateness', values['allowed-lateness']);
  set('queueCapacity', values['queue-capacity']);
  set('maxOpenIncidentsPerRule', values['max-open-incidents-per-rule']);
  set('maxOverflowIncidentsPerRule', values['max-overflow-incidents-per-rule']);
  set('shutdownTimeout', values['shutdown-timeout']);
  set('logLevel', values['log-level']);
  set('authTokenFile', values['auth-token-file']);
  return { config: values.config, flags };
}
