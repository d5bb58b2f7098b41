// `llmsec replay` of a file it cannot read at all (missing, a directory) printed a summary of
// zeros ("0 lines, 0 events ... alerts: 0 firing"), or an empty table, before `cannot read`: a
// replay that never happened. Now the error alone, exit 1, on one thread and two.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

describe('llmsec replay of a file it cannot read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-unreadable-'));
  const missing = join(dir, 'missing.jsonl');
  for (const threads of ['1', '2']) {
    for (const format of ['jsonl', 'table']) {
      it(`says only that it cannot read it (--threads ${threads}, --format ${format})`, async () => {
        const gone = await cli(['replay', '--threads', threads, '--format', format, missing]);
        expect(gone.code).toBe(1);
        expect(gone.stdout).toBe('');
        expect(gone.stderr).toMatch(
          new RegExp(`^llmsec replay: cannot read ${missing.replaceAll('.', '\\.')}: ENOENT[^\\n]*\\n$`),
        );
        const notAFile = await cli(['replay', '--threads', threads, '--format', format, dir]);
        expect(notAFile.code).toBe(1);
        expect(notAFile.stdout).toBe('');
        expect(notAFile.stderr).toMatch(/^llmsec replay: cannot read [^\n]*: EISDIR[^\n]*\n$/);
      });
    }
  }
});
