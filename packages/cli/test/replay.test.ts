import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { rateText } from '../src/commands/replay-rate.ts';
import { runCli } from '../src/index.ts';
import { cli, line } from './replay-io.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const block = (i: number, ms: number, user = 'u1') =>
  line({
    event_id: `b${i}`,
    timestamp: at(ms),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: user,
    trace_id: i.toString(16).padStart(32, '0'),
    metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
  });

function tmp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('llmsec replay', () => {
  it('prints one firing and one resolved alert line per incident, in the alert JSONL format', async () => {
    const events = Array.from({ length: 12 }, (_, i) => block(i, i * 10_000));
    // A late event far past the quiet period closes the incident.
    events.push(block(99, 60 * 60_000, 'other'));
    const path = tmp('events.jsonl', events.join('\n') + '\n');
    const { code, stdout, stderr } = await cli(['replay', path]);
    expect(code).toBe(0);
    const alerts = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(alerts.map((a) => [a.rule, a.status])).toEqual([
      ['rapid_guardrail_blocks', 'firing'],
      ['rapid_guardrail_blocks', 'resolved'],
    ]);
    const [firing, resolved] = alerts as [Record<string, unknown>, Record<string, unknown>];
    expect(Object.keys(firing)).toEqual([
      'alert_id',
      'rule',
      'severity',
      'status',
      'labels',
      'user_ids',
      'starts_at',
      'description',
      'evidence',
      'trace_ids',
    ]);
    expect(resolved.alert_id).toBe(firing.alert_id);
    expect(firing.starts_at).toBe(at(90_000));
    expect(resolved.ends_at).toBe(at(110_000 + 10 * 60_000));
    expect(stderr).toContain('13 lines, 13 events, 0 malformed');
    expect(stderr).toMatch(/rapid_guardrail_blocks\s+firing\s+1\s+resolved\s+1/);
  });

  it('reports malformed lines with their line numbers and goes on', async () => {
    const input = [
      block(1, 0),
      '{"event_id": "x"',
      '',
      line({
        event_id: 'y',
        timestamp: 'yesterday',
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u',
      }),
      line({ event_id: 'z', timestamp: at(1), category: 'guardrail_block', severity: 'warning' }),
      line({
        event_id: 'w',
        timestamp: at(2),
        category: 'brand_new_category',
        severity: 'info',
        user_id: 'u',
        extra: 1,
      }),
      block(2, 3),
    ].join('\r\n');
    const { code, stdout, stderr } = await cli(['replay', '-'], input);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^line 2: invalid JSON/m);
    expect(stderr).toMatch(/^line 4: bad timestamp "yesterday"/m);
    expect(stderr).toMatch(/^line 5: missing required field "user_id"/m);
    expect(stderr).not.toMatch(/^line (1|3|6|7):/m);
    expect(stderr).toContain('7 lines, 3 events, 3 malformed');
  });

  it('skips a line over --max-line-bytes with its number, and goes on', async () => {
    const long = line({
      event_id: 'big',
      timestamp: at(0),
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
      request_preview: 'x'.repeat(5_000),
    });
    const path = tmp('events.jsonl', [block(1, 0), long, block(2, 1)].join('\n'));
    const { code, stderr } = await cli(['replay', path, '--max-line-bytes', '4096']);
    expect(code).toBe(0);
    expect(stderr).toMatch(
      new RegExp(`^line 2: line of ${long.length} bytes is over --max-line-bytes 4096; skipped$`, 'm'),
    );
    expect(stderr).toContain('3 lines, 2 events, 1 malformed');
    const usage = await cli(['replay', path, '--max-line-bytes', '0']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--max-line-bytes must be a positive integer');
    // Number() took hexadecimal, exponents and padding: 0x10 was a 16-byte cap.
    for (const text of ['0x10', '1e3', ' 100', '100 ', '4096.0']) {
      const bad = await cli(['replay', path, '--max-line-bytes', text]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(
        `--max-line-bytes must be a positive integer in decimal digits, got "${text}"`,
      );
    }
    const shards = await cli([
      'replay',
      path,
      '--shards',
      '0x2',
      '--state',
      'redis://127.0.0.1:1',
      '--ruleset',
      'x',
    ]);
    expect(shards.code).toBe(2);
    expect(shards.stderr).toContain(
      '--shards must be an integer from 1 to 1000 in decimal digits, got "0x2"',
    );
    // --shard-timeout: only with --shards, a duration from 2s (a live shard says so each second).
    const shardArgs = ['replay', path, '--state', 'redis://127.0.0.1:1', '--ruleset', 'x'];
    for (const [extra, message] of [
      [['--shard-timeout', '5s'], '--shard-timeout needs --shards N'],
      [['--shards', '2', '--shard-timeout', '1s'], '--shard-timeout: a duration from 2s to 1d, got "1s"'],
      [['--shards', '2', '--shard-timeout', 'soon'], '--shard-timeout: a duration from 2s to 1d, got "soon"'],
    ] as const) {
      const bad = await cli([...shardArgs, ...extra]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(message);
    }
  });

  it('groups by the conversation_id of the JSONL lines (0ba2d24), on one thread and two', async () => {
    const rules = tmp(
      'conv-rules.yaml',
      [
        'rules:',
        '  - id: conversation_blocks',
        '    title: Blocks in one conversation',
        '    severity: warning',
        '    match: { categories: [guardrail_block] }',
        '    group_by: conversation_id',
        '    window: 1m',
        '    condition: { kind: count, min: 3 }',
        '',
      ].join('\n'),
    );
    // Nine blocks by nine users, three per conversation: only the conversation is repeated.
    const events = Array.from({ length: 9 }, (_, i) =>
      line({ ...(JSON.parse(block(i, i * 1_000, `u${i}`)) as object), conversation_id: `conv-${i % 3}` }),
    );
    const path = tmp('conv.jsonl', events.join('\n'));
    for (const threads of ['1', '2']) {
      const { code, stdout } = await cli(['replay', path, '--rules', rules, '--threads', threads]);
      const alerts = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { labels: Record<string, string>; status: string });
      expect(alerts.map((a) => a.labels.conversation_id).sort()).toEqual(['conv-0', 'conv-1', 'conv-2']);
      expect(code).toBe(0);
    }
  });

  it('reads a gzip-compressed file (events.jsonl.gz) like the plain one, on one thread and two; a corrupt one is an error, exit 1', async () => {
    const input: string[] = [];
    for (let i = 0; i < 40; i++) input.push(block(i, i * 7_000, `u${i % 2}`));
    const text = input.join('\n');
    const plain = tmp('plain.jsonl', text);
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-gz-'));
    const gz = join(dir, 'events.jsonl.gz');
    writeFileSync(gz, gzipSync(text));
    const want = await cli(['replay', plain, '--threads', '1']);
    expect(want.stdout.split('\n').length).toBeGreaterThan(2);
    for (const threads of ['1', '2']) {
      const got = await cli(['replay', gz, '--threads', threads]);
      expect(got.stderr).toContain('40 lines, 40 events, 0 malformed');
      expect(got.stdout).toBe(want.stdout);
      expect(got.code).toBe(0);
    }
    // And on stdin (`llmsec replay - < events.jsonl.gz`).
    const out = new PassThrough();
    let stdout = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await runCli(['replay', '-'], {
      stdin: Readable.from([gzipSync(text)]),
      stdout: out,
      stderr: new PassThrough(),
    });
    expect(stdout).toBe(want.stdout);
    expect(code).toBe(0);
    const corrupt = join(dir, 'corrupt.jsonl.gz');
    writeFileSync(corrupt, Buffer.concat([gzipSync(text).subarray(0, 30), Buffer.from('not gzip at all')]));
    for (const threads of ['1', '2']) {
      const bad = await cli(['replay', corrupt, '--threads', threads]);
      expect(bad.stderr).toMatch(/llmsec replay: cannot read .*corrupt\.jsonl\.gz: /);
      expect(bad.code).toBe(1);
    }
  });

  it('says a UTF-16 file is UTF-16 (exit 1), on one thread, two and stdin, instead of every line "invalid JSON"', async () => {
    const text = `${block(0, 0)}\n${block(1, 1_000)}\n`;
    for (const [name, bytes] of [
      ['le.jsonl', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])],
      ['be.jsonl', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()])],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-utf16-'));
      const file = join(dir, name);
      writeFileSync(file, bytes);
      const mark = name === 'le.jsonl' ? 'FF FE' : 'FE FF';
      for (const threads of ['1', '2']) {
        const got = await cli(['replay', file, '--threads', threads]);
        expect(got.stderr).toContain(`the input is UTF-16 (byte order mark ${mark})`);
        expect(got.stderr).not.toContain('invalid JSON');
        expect(got.code).toBe(1);
      }
      const err = new PassThrough();
      let stderr = '';
      err.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await runCli(['replay', '-'], {
        stdin: Readable.from([bytes]),
        stdout: new PassThrough(),
        stderr: err,
      });
      expect(stderr).toContain(`the input is UTF-16 (byte order mark ${mark})`);
      expect(code).toBe(1);
    }
  });

  it('prints a rate only for a time long enough to support it (a short input read "12000000000 lines per CPU second")', async () => {
    const path = tmp('short.jsonl', [block(1, 0), block(2, 1)].join('\n'));
    for (const threads of ['1', '2']) {
      const { code, stderr } = await cli(['replay', path, '--threads', threads]);
      expect(code).toBe(0);
      const summary = stderr.split('\n').find((l) => l.startsWith('llmsec replay: 2 lines'))!;
      expect(summary).toMatch(/ s CPU /);
      // Every rate printed follows a measured time of at least 0.10 s.
      for (const m of summary.matchAll(/([0-9.]+) s( CPU [^(,]*)? \([0-9]+ lines/g)) {
        expect(Number(m[1]), summary).toBeGreaterThanOrEqual(0.1);
      }
    }
    // A time that supports one keeps its rate (bench/detect/run.ts reads it).
    expect(rateText(50_000, 0.25, 'lines per CPU second')).toBe(' (200000 lines per CPU second)');
    expect(rateText(50_000, 0.099, 'lines/s')).toBe('');
  });

  it("says a UTF-32 file is UTF-32 with a hint that converts it (UTF-32LE begins with UTF-16LE's mark)", async () => {
    const text = `${block(0, 0)}\n`;
    const le = Buffer.alloc(text.length * 4);
    for (let i = 0; i < text.length; i++) le.writeUInt32LE(text.codePointAt(i)!, i * 4);
    const be = Buffer.from(le).swap32();
    for (const [name, bytes, mark] of [
      ['le32.jsonl', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), le]), 'FF FE 00 00'],
      ['be32.jsonl', Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), be]), '00 00 FE FF'],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-utf32-'));
      const file = join(dir, name);
      writeFileSync(file, bytes);
      for (const threads of ['1', '2']) {
        const got = await cli(['replay', file, '--threads', threads]);
        expect(got.stderr).toContain(`the input is UTF-32 (byte order mark ${mark})`);
        expect(got.stderr).toContain('iconv -f UTF-32 -t UTF-8');
        expect(got.stderr).not.toContain('UTF-16');
        expect(got.code).toBe(1);
      }
    }
  });

  it('reads a file that begins with a UTF-8 byte order mark like one without, on one thread, two and stdin', async () => {
    const input: string[] = [];
    for (let i = 0; i < 12; i++) input.push(block(i, i * 7_000));
    const plain = tmp('plain.jsonl', input.join('\r\n'));
    const bom = tmp('bom.jsonl', '\uFEFF' + input.join('\r\n'));
    const want = await cli(['replay', plain, '--threads', '1']);
    expect(want.stdout.length).toBeGreaterThan(0);
    for (const run of [
      await cli(['replay', bom, '--threads', '1']),
      await cli(['replay', bom, '--threads', '2']),
      await cli(['replay', '-'], '\uFEFF' + input.join('\n')),
    ]) {
      expect(run.stderr).toContain('12 lines, 12 events, 0 malformed');
      expect(run.stdout).toBe(want.stdout);
      expect(run.code).toBe(0);
    }
  });

  it('gives the same alerts and reports on two threads (the default for a file) as on one', async () => {
    // Campaigns across users, a rule firing and resolving, junk lines and an over-long one.
    const input: string[] = [];
    for (let i = 0; i < 60; i++) input.push(block(i, i * 7_000, `u${i % 3}`));
    input.splice(10, 0, '{"event_id": "x"', '', '   ', 'x'.repeat(5_000));
    input.push(block(99, 3_600_000));
    const path = tmp('events.jsonl', input.join('\r\n'));
    const one = await cli(['replay', path, '--threads', '1', '--max-line-bytes', '4096']);
    const two = await cli(['replay', path, '--max-line-bytes', '4096']);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    expect(one.stdout.split('\n').length).toBeGreaterThan(5);
    expect(two.stdout).toBe(one.stdout);
    const reports = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('line '));
    expect(reports(two.stderr)).toEqual(reports(one.stderr));
    expect(reports(one.stderr)).toHaveLength(2);
    expect(two.stderr).toContain('65 lines, 61 events, 2 malformed');
    expect(two.stderr).toMatch(/s on the reader thread/);
    expect(one.stderr).not.toMatch(/reader thread/);
    const usage = await cli(['replay', path, '--threads', '3']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--threads must be 1 or 2');
  });

  it('reports the first 1000 malformed lines one by one and counts them all', async () => {
    const input = Array.from({ length: 1_500 }, () => 'not json').join('\n');
    const { code, stderr } = await cli(['replay', '-'], input);
    expect(code).toBe(1); // no line was an event
    expect(stderr.match(/^line \d+: invalid JSON/gm)).toHaveLength(1_000);
    expect(stderr).toContain('only the first 1000 are shown');
    expect(stderr).toContain('1500 lines, 0 events, 1500 malformed');
  });

  it('uses a rule file, and prints a table on request', async () => {
    const rules = tmp(
      'rules.yaml',
      `rules:
  - id: two_blocks
    title: Two blocks
    severity: warning
    match: { categories: [guardrail_block] }
    window: 1m
    condition: { kind: count, min: 2 }
`,
    );
    const events = tmp('e.jsonl', [block(1, 0), block(2, 30_000), block(3, 5 * 60_000, 'u2')].join('\n'));
    const { code, stdout } = await cli(['replay', events, '--rules', rules, '--format', 'table']);
    expect(code).toBe(0);
    const rows = stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^STATUS\s+RULE\s+SEVERITY\s+GROUP\s+STARTS_AT/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 4))).toEqual([
      ['firing', 'two_blocks', 'warning', 'user_id=u1'],
      ['resolved', 'two_blocks', 'warning', 'user_id=u1'],
    ]);
  });

  it('counts and drops events later than --allowed-lateness', async () => {
    const input = [block(1, 60_000), block(2, 0)].join('\n');
    const strict = await cli(['replay', '--allowed-lateness', '30s'], input);
    expect(strict.stderr).toContain('1 late (dropped)');
    const lenient = await cli(['replay', '--allowed-lateness', '2m'], input);
    expect(lenient.stderr).toContain('0 late (dropped)');
  });

  it('says how many incidents went over the open-incident cap (they alert from the overflow tier)', async () => {
    // 10,001 users leak the system prompt within a minute: the rule's cap (10,000 open) refuses
    // the last a slot; it opens in the overflow tier and fires all the same.
    const leaks = Array.from({ length: 10_001 }, (_, i) =>
      line({
        event_id: `l${i}`,
        timestamp: at(i * 5),
        category: 'system_prompt_leakage',
        severity: 'critical',
        user_id: `u${i}`,
      }),
    );
    const { code, stdout, stderr } = await cli(['replay'], leaks.join('\n'));
    expect(code).toBe(0);
    expect(
      stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('"firing"')),
    ).toHaveLength(10_001);
    expect(stderr).toContain('alerts: 10001 firing, 0 resolved, 10001 still firing at end of input');
    expect(stderr).toContain('; 1 incidents over maxOpenIncidentsPerRule alerted in the overflow tier\n');
    // None over the cap: the summary is as before.
    const few = await cli(['replay'], leaks.slice(0, 3).join('\n'));
    expect(few.stderr).not.toContain('overflow');
  });

  it('exits 2 with the file, rule and field named for a bad rule file, and for bad usage', async () => {
    const rules = tmp(
      'bad-rules.yaml',
      'rules:\n  - { id: r1, title: t, severity: loud, match: { categories: [x] }, window: 10m, condition: { kind: single } }\n',
    );
    const bad = await cli(['replay', '--rules', rules], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad-rules.yaml: rule "r1": field "severity"');
    expect((await cli(['replay', '--format', 'xml'], '')).code).toBe(2);
    // No rules: a backtest that could find nothing, reported as "0 firing".
    for (const text of ['rules: []\n', '[]\n']) {
      const empty = await cli(['replay', '--rules', tmp('no-rules.yaml', text)], block(1, 0));
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain('no-rules.yaml: no rules');
    }
    expect((await cli(['replay', 'a', 'b'], '')).code).toBe(2);
  });

  it('exits 1 with a clear message when no line is a security event, on one thread, two and stdin', async () => {
    // Garbage in (a wrong file, a log of another format) must not read as "no alerts": a
    // backtest script that checks the exit status would take it for a clean log.
    const garbage = ['not json', '{"a":1}', '[1,2]', 'null', '', '  '].join('\n');
    const path = tmp('events.jsonl', garbage);
    for (const argv of [
      ['replay', path, '--threads', '1'],
      ['replay', path, '--threads', '2'],
      ['replay', '-'],
    ]) {
      const { code, stdout, stderr } = await cli(argv, garbage);
      expect(code, argv.join(' ')).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^line 1: invalid JSON/m);
      expect(stderr).toContain('6 lines, 0 events, 4 malformed');
      expect(stderr).toContain('no line could be read as a security event (4 malformed)');
    }
    // Some lines bad, some good: the run succeeds and counts them (as documented).
    const mixed = await cli(['replay', '-'], `${garbage}\n${block(1, 0)}\n`);
    expect(mixed.code).toBe(0);
    expect(mixed.stderr).toContain('7 lines, 1 events, 4 malformed');
    expect(mixed.stderr).not.toContain('no line could be read');
    // Empty and blank input is not malformed: nothing to replay, exit 0.
    for (const input of ['', '\n\n \n']) {
      const empty = await cli(['replay', '-'], input);
      expect(empty.code).toBe(0);
      expect(empty.stderr).not.toContain('no line could be read');
    }
  });

  it("writes a malformed line's terminal control characters escaped, never raw, on one thread, two and stdin", async () => {
    // JSON.parse's message quotes the start of the line: a hostile log could clear the
    // operator's screen, retitle the terminal or hide lines through the malformed-line report.
    const input = ['x\u001b[2J\u001b]0;t\u0007', '\u009b31m{', block(1, 0)].join('\n');
    const path = tmp('events.jsonl', input);
    for (const argv of [
      ['replay', path, '--threads', '1'],
      ['replay', path, '--threads', '2'],
      ['replay', '-'],
    ]) {
      const { code, stderr } = await cli(argv, input);
      expect(code, argv.join(' ')).toBe(0);
      expect(stderr).toMatch(/^line 1: invalid JSON/m);
      expect(stderr).toMatch(/^line 2: invalid JSON/m);
      expect(stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(stderr).toContain('\\x1b[2J');
      expect(stderr).toContain('\\x9b31m');
    }
  });

  it('prints the table with control characters of user ids and field values escaped, one row per alert', async () => {
    // The table is for terminals; user ids and metadata values come from the log as written.
    const evil = 'evil\u001b[2J\u001b]0;x\u0007\nFAKE ROW';
    const input = Array.from({ length: 10 }, (_, i) =>
      line({
        event_id: `e${i}`,
        timestamp: at(i * 1_000),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: evil,
        metadata: { guardrail_layer: `l\u009b31m${i % 3}` },
      }),
    ).join('\n');
    const { code, stdout } = await cli(['replay', '-', '--format', 'table'], input);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const rows = stdout.trim().split('\n');
    expect(rows).toHaveLength(3); // header, systematic_enumeration, rapid_guardrail_blocks
    expect(rows[1]).toContain('user_id=evil\\x1b[2J\\x1b]0;x\\x07\\x0aFAKE ROW');
  });

  it('takes --state memory, as llmsec detector does, for the default in-memory state', async () => {
    const input = Array.from({ length: 10 }, (_, i) => block(i, i * 1_000)).join('\n');
    const plain = await cli(['replay', '-'], input);
    const memory = await cli(['replay', '-', '--state', 'memory'], input);
    expect(memory.code).toBe(0);
    expect(memory.stdout).toBe(plain.stdout);
    expect(memory.stdout).toContain('"rule":"rapid_guardrail_blocks"');
    expect(memory.stderr).not.toContain('state: Redis');
    // Shards meet in Redis: memory cannot carry them, nor a ruleset or a cluster (not ignored).
    const shards = await cli(['replay', '-', '--state', 'memory', '--shards', '2'], input);
    expect(shards.code).toBe(2);
    expect(shards.stderr).toContain('--shards needs --state redis://');
    for (const [args, flag] of [
      [['--state', 'memory', '--ruleset', 'r'], '--ruleset'],
      [['--ruleset', 'r'], '--ruleset'],
      [['--state', 'memory', '--cluster'], '--cluster'],
      [['--cluster'], '--cluster'],
    ] as const) {
      const got = await cli(['replay', '-', ...args], input);
      expect(got.code, args.join(' ')).toBe(2);
      expect(got.stderr).toContain(`${flag} needs --state redis://`);
    }
  });

  it('exits 1 when the input file cannot be read', async () => {
    const { code, stderr } = await cli(['replay', join(tmpdir(), 'no-such-dir-llmsec', 'x.jsonl')]);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot read');
  });
});
