import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEventLine, type SecurityEvent } from '@llmsec/core';
import { withSecurityContext } from '../src/context.ts';
import { JsonlEventWriter } from '../src/jsonl-writer.ts';
import { createHarness } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const event = (i: number): SecurityEvent => ({
  event_id: `EVT-${String(i).padStart(12, '0')}`,
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: `u${i}`,
  metadata: { guardrail_layer: 'l', block_reason: 'r' },
});

describe('JsonlEventWriter', () => {
  it('appends one decodable events.md line per event to a file', async () => {
    const path = join(dir, 'events.jsonl');
    const writer = new JsonlEventWriter({ destination: { path } });
    const h = createHarness({ jsonl: writer });
    const a = h.events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'alice', sessionId: 's' });
    const b = h.events.requestCompleted({
      model: 'm',
      promptTokens: 1,
      completionTokens: 2,
      latencyMs: 3,
      costUsd: 0,
      blocked: true,
    });
    await writer.close();
    await writer.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const decoded = lines.map((l) => decodeEventLine(l).event);
    expect(decoded[0]).toEqual(a);
    expect(decoded[0]!.user_id).toBe('alice');
    expect(decoded[1]!.metadata).toEqual(b.metadata);
    expect(Object.keys(JSON.parse(lines[0]!) as object).slice(0, 5)).toEqual([
      'event_id',
      'timestamp',
      'category',
      'severity',
      'user_id',
    ]);
  });

  it('writes the conversation id when the event has one (security context or baggage), and no field without', async () => {
    const path = join(dir, 'conversation.jsonl');
    const writer = new JsonlEventWriter({ destination: { path } });
    const h = createHarness({ jsonl: writer });
    withSecurityContext({ userId: 'alice', sessionId: 's', conversationId: 'conv-42' }, () =>
      h.events.guardrailBlock({ layer: 'injection', reason: 'r' }),
    );
    h.events.guardrailBlock({ layer: 'injection', reason: 'r', userId: 'bob' });
    await writer.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    const [inConversation, without] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inConversation!.conversation_id).toBe('conv-42');
    // Beside session_id, which it refines (events.md field order).
    expect(Object.keys(inConversation!).slice(5, 7)).toEqual(['session_id', 'conversation_id']);
    expect(decodeEventLine(lines[0]!).event.conversation_id).toBe('conv-42');
    expect(without).not.toHaveProperty('conversation_id');
  });

  it('bounds its buffer while the stream applies backpressure, counting drops', async () => {
    const chunks: string[] = [];
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        release = cb;
      },
    });
    const writer = new JsonlEventWriter({ destination: slow, maxPending: 5 });
    for (let i = 0; i < 20; i++) writer.write(event(i));
    // One line is in the stream, five wait, the rest were dropped.
    expect(writer.dropped).toBe(14);
    const flushed = writer.flush();
    while (chunks.length < 6) {
      const r = release;
      release = undefined;
      r?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    release?.();
    await flushed;
    expect(chunks.map((c) => decodeEventLine(c.trim()).event.user_id)).toEqual([
      'u0',
      'u1',
      'u2',
      'u3',
      'u4',
      'u5',
    ]);
  });

  // flush() waited only for 'drain': a line the stream had accepted (write returned true) but
  // not yet taken was still queued when flush resolved.
  it('flush waits until the stream has taken every line written, not only for drain', async () => {
    const held: Array<() => void> = [];
    const taking = new Writable({
      write(_chunk: Buffer, _enc, cb) {
        held.push(cb);
      },
    });
    const writer = new JsonlEventWriter({ destination: taking });
    writer.write(event(1)); // accepted: write() returned true, the stream has not taken it
    let flushed = false;
    const flush = writer.flush().then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(held).toHaveLength(1);
    expect(flushed).toBe(false);
    held[0]!();
    await flush;
    expect(flushed).toBe(true);
  });

  it('flush and close give up after flushTimeoutMs on a stream that never takes, counting what was never written', async () => {
    const stuck = new Writable({
      highWaterMark: 1,
      write() {}, // never calls back: a pipe nobody reads
    });
    const writer = new JsonlEventWriter({ destination: stuck, flushTimeoutMs: 20 });
    for (let i = 0; i < 3; i++) writer.write(event(i)); // one in the stream, two pending
    await expect(writer.flush()).resolves.toBeUndefined();
    await expect(writer.close()).resolves.toBeUndefined();
    expect(writer.dropped).toBe(2);
    expect(() => new JsonlEventWriter({ destination: stuck, flushTimeoutMs: -1 })).toThrow(/flushTimeoutMs/);
  });

  it('a failing stream stops the log, not the caller', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk full'));
      },
    });
    const writer = new JsonlEventWriter({ destination: failing });
    expect(() => writer.write(event(1))).not.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(() => writer.write(event(2))).not.toThrow();
    expect(writer.dropped).toBeGreaterThanOrEqual(1);
    await expect(writer.close()).resolves.toBeUndefined();
  });

  it('rejects a bad destination at construction', () => {
    expect(() => new JsonlEventWriter({ destination: 'stderr' as never })).toThrow(/destination must be/);
    expect(() => new JsonlEventWriter({ destination: { path: '' } })).toThrow(/path/);
  });

  // The file was opened asynchronously: a path that cannot be opened (a typo'd directory, a
  // directory, no permission) gave a writer that dropped every line, said only to diag.error,
  // which most apps do not wire: the whole security log lost without a word at start-up.
  it('rejects at construction a path it cannot open, naming the path and the cause', () => {
    const missing = join(dir, 'no-such-dir', 'events.jsonl');
    expect(() => new JsonlEventWriter({ destination: { path: missing } })).toThrow(
      /destination\.path.*no-such-dir.*ENOENT/,
    );
    expect(() => new JsonlEventWriter({ destination: { path: dir } })).toThrow(/EISDIR/);
  });
});

describe('JsonlEventWriter queue', () => {
  it('drains a long backlog over many drain cycles in order, without losing or repeating a line', async () => {
    const { EventEmitter } = await import('node:events');
    // A stream that takes 1,500 lines per drain cycle, then applies backpressure again.
    const written: string[] = [];
    let budget = 0;
    const stream = Object.assign(new EventEmitter(), {
      write(line: string): boolean {
        written.push(line);
        budget--;
        return budget > 0;
      },
      end(cb: () => void): void {
        cb();
      },
    });
    const writer = new JsonlEventWriter({ destination: stream as unknown as Writable, maxPending: 100_000 });
    writer.write(event(0)); // budget 0 -> backpressure from the first line on
    for (let i = 1; i <= 50_000; i++) writer.write(event(i));
    expect(written).toHaveLength(1);
    while (written.length < 50_001) {
      const before = written.length;
      budget = 1500;
      stream.emit('drain');
      expect(written.length - before).toBe(1500 > 50_001 - before ? 50_001 - before : 1500);
    }
    expect(writer.dropped).toBe(0);
    expect(writer.written).toBe(50_001);
    expect(written.map((l) => (JSON.parse(l) as { user_id: string }).user_id)).toEqual(
      Array.from({ length: 50_001 }, (_, i) => `u${i}`),
    );
  });
});
