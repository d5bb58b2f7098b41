// Timeline probe for `llmsec replay FILE` on two threads (issue 13), preloaded with `--import`
// by bench/replay/timeline.ts: it runs in the main thread and in every worker (a worker inherits
// the process's execArgv) and prints one line per thread on stderr with the times, from the
// process's exec, of what that thread did: started, first read, first and last batch posted or
// received, ended; its CPU time; and how long its event loop waited (idle: nothing to do, e.g.
// the reader held back by the batches in flight, or the engine's thread waiting for a batch).
// Nothing in the replay is changed: posts and message listeners are wrapped to be timed.
//
// A thread's role is read from its workerData: the reader has `opened` (ReaderStart), the
// engine's thread `argv` (EngineThreadData). The reader is ended by its port's close or
// terminated, without an 'exit' event, so it reports when it posts its 'done' (or 'failed').
import fs from 'node:fs';
import module from 'node:module';
import { isMainThread, MessagePort, threadId, workerData } from 'node:worker_threads';

if (isMainThread) process.env.LLMSEC_TIMELINE_ORIGIN = String(performance.timeOrigin);
const origin = Number(process.env.LLMSEC_TIMELINE_ORIGIN ?? performance.timeOrigin);
const sinceExec = (): number => performance.timeOrigin + performance.now() - origin;

const data = workerData as { opened?: unknown; argv?: unknown } | undefined;
const role = isMainThread
  ? 'main'
  : data?.opened !== undefined
    ? `reader${threadId}`
    : data?.argv !== undefined
      ? 'engine'
      : `worker${threadId}`;

const marks: Record<string, number> = { start: sinceExec() };
const mark = (name: string): void => {
  marks[name] ??= sinceExec();
};
let posted = 0;
let received = 0;
let whole = 0;
let raw = 0;
/** Time inside 'message' listeners (receiving the batches and feeding the engine). */
let busyMs = 0;
/** Listener time and events by batch form: events read back, whole events, raw lines. */
const byForm = { projected: [0, 0], whole: [0, 0], raw: [0, 0] };

const open = fs.createReadStream;
fs.createReadStream = function probedCreateReadStream(...args: Parameters<typeof open>) {
  const stream = open(...args);
  stream.once('data', () => mark('first_read'));
  return stream;
} as typeof open;
module.syncBuiltinESMExports();

type Message = { kind?: unknown; whole?: unknown; raw?: unknown; count?: unknown } | null | undefined;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function probedPost(this: MessagePort, value: unknown, ...rest: never[]) {
  const message = value as Message;
  if (typeof message === 'object' && message?.kind === 'batch') {
    posted++;
    mark('first_post');
    marks.last_post = sinceExec();
  }
  const result = post.call(this, value, ...rest);
  if (typeof message === 'object' && (message?.kind === 'done' || message?.kind === 'failed'))
    report(`posted_${String(message.kind)}`);
  return result;
};

const on = MessagePort.prototype.on;
MessagePort.prototype.on = function probedOn(
  this: MessagePort,
  event: string,
  listener: (arg: unknown) => void,
) {
  if (event !== 'message') return on.call(this, event, listener);
  return on.call(this, event, (message: Message) => {
    const t0 = performance.now();
    if (typeof message === 'object' && message?.kind === 'batch') {
      received++;
      if (message.whole === true) whole++;
      if (message.raw === true) raw++;
      mark('first_batch');
      marks.last_batch = sinceExec();
    }
    try {
      listener(message);
    } finally {
      const ms = performance.now() - t0;
      busyMs += ms;
      if (typeof message === 'object' && message?.kind === 'batch') {
        const form = byForm[message.raw === true ? 'raw' : message.whole === true ? 'whole' : 'projected'];
        form[0] += ms;
        form[1] += typeof message.count === 'number' ? message.count : 0;
      }
    }
  });
} as typeof on;

let reported = false;
function report(when: string): void {
  if (reported) return;
  reported = true;
  marks.end = sinceExec();
  const elu = performance.eventLoopUtilization();
  const cpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  const fields = [
    `role=${role}`,
    `at=${when}`,
    ...Object.entries(marks).map(([k, v]) => `${k}=${v.toFixed(0)}`),
    `cpu_ms=${((cpu.user + cpu.system) / 1000).toFixed(0)}`,
    `idle_ms=${elu.idle.toFixed(0)}`,
    `posted=${posted}`,
    `received=${received}`,
    `whole=${whole}`,
    `raw=${raw}`,
    `listener_ms=${busyMs.toFixed(0)}`,
    // Per event (or raw line) fed, in the listener: the engine's work plus reading back,
    // projecting (whole) or decoding (raw) on the engine's side; the deserialization is before.
    ...Object.entries(byForm).map(
      ([form, [ms, n]]) => `${form}_us=${n! > 0 ? ((ms! * 1000) / n!).toFixed(2) : '-'} ${form}_n=${n}`,
    ),
  ];
  fs.writeSync(2, `[timeline] ${fields.join(' ')}\n`);
}
process.on('exit', () => report('exit'));
