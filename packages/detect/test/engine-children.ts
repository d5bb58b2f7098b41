import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Alert } from '@llmsec/core';
import type { EngineStats } from '../src/index.ts';
import fc from 'fast-check';
import type { Timed } from './redis-support.ts';
import { rounds, untie } from './redis-split.ts';
import { build, draw } from './streams.ts';

/**
 * Detection engines on the shared Redis state, each in its own process (fixtures/engine-process.ts),
 * fed one stream round-robin: the fleet tests' real processes.
 */

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/engine-process.ts', import.meta.url));

export interface Child {
  proc: ChildProcess;
  alerts: Alert[];
  next(): Promise<{ ok: true; stats?: EngineStats }>;
  send(msg: unknown): void;
}

export function startChild(config: unknown): Child {
  const proc = spawn(NODE, ['--conditions=@llmsec/source', CHILD, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const alerts: Alert[] = [];
  const waiting: ((v: { ok: true; stats?: EngineStats }) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { alert?: Alert; ok?: true; stats?: EngineStats };
    if (msg.alert) alerts.push(msg.alert);
    else waiting.shift()?.(msg as { ok: true; stats?: EngineStats });
  });
  return {
    proc,
    alerts,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    send: (msg) => proc.stdin!.write(`${JSON.stringify(msg)}\n`),
  };
}

export async function call(child: Child, msg: unknown): Promise<{ ok: true; stats?: EngineStats }> {
  const reply = child.next();
  child.send(msg);
  return reply;
}

/**
 * One process per config, the stream dealt round-robin (or by `owner`) in rounds of at most `latenessMs`, then
 * flushed twice (the second lets each process sweep what the others' final events made due).
 * Returns every process's alerts, its late drops, and how many processes emitted any alert.
 */
export async function runProcesses(
  configs: Record<string, unknown>[],
  stream: Timed[],
  latenessMs: number,
  /** The process of each event (default: round-robin in stream order). */
  owner?: (e: Timed) => number,
): Promise<{ alerts: Alert[]; perProcess: Alert[][]; late: number; emitters: number }> {
  const children = configs.map((c) => startChild(c));
  const n = children.length;
  try {
    let i = 0;
    for (const round of rounds(stream, latenessMs)) {
      const shares: [unknown, number][][] = children.map(() => []);
      for (const e of round) shares[owner !== undefined ? owner(e) : i++ % n]!.push([e.event, e.t]);
      await Promise.all(children.map((c, k) => call(c, { events: shares[k] })));
    }
    for (let pass = 0; pass < 2; pass++) await Promise.all(children.map((c) => call(c, { flush: true })));
    const stats = await Promise.all(children.map((c) => call(c, { stop: true })));
    const late = stats.reduce((s, r) => s + (r.stats?.droppedLate ?? 0), 0);
    const emitters = children.filter((c) => c.alerts.length > 0).length;
    return {
      alerts: children.flatMap((c) => c.alerts),
      perProcess: children.map((c) => c.alerts),
      late,
      emitters,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  }
}

/** A scenario for the default rules: bursts of blocks, request runs, a campaign, leaks. */
export function fleetScenario(): Timed[] {
  const draws = fc.sample(
    draw.map((d) => ({
      ...d,
      user: d.user < 4 ? 0 : d.user,
      gapMs: d.gapMs % 8_000,
      jitterMs: d.jitterMs % 25_000,
      promptLength: d.kind % 3 === 0 ? d.promptLength : 200,
    })),
    { numRuns: 600, seed: 42 },
  );
  return untie(build(draws));
}
