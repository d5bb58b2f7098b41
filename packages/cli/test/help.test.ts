import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

// README: "Every command prints its options with --help" — on stdout, exit 0, as a help request
// (a usage error goes to stderr with exit 2).
describe('--help of every command', () => {
  for (const command of ['replay', 'test-rules', 'limits', 'detector']) {
    for (const flag of ['--help', '-h']) {
      it(`llmsec ${command} ${flag}: usage on stdout, nothing on stderr, exit 0`, async () => {
        const { code, stdout, stderr } = await cli([command, flag]);
        expect(stderr).toBe('');
        expect(stdout).toMatch(new RegExp(`^usage: llmsec ${command} `));
        expect(code).toBe(0);
      });
    }
  }

  it('names no repository path an installed user does not have (links, or paths under node_modules)', async () => {
    for (const command of ['replay', 'test-rules']) {
      const { stdout } = await cli([command, '--help']);
      expect(stdout, command).not.toMatch(/(?<![\w/.@-])(?:packages|docs)\/[\w/.-]+/);
    }
  });

  it('llmsec limits show X --help: help wins over the missing --redis', async () => {
    const { code, stdout } = await cli(['limits', 'show', 'u-1', '--help']);
    expect(stdout).toMatch(/^usage: llmsec limits /);
    expect(code).toBe(0);
  });

  it('llmsec --help: the command list on stdout, exit 0; llmsec alone: on stderr, exit 2 (a usage error)', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/^usage: llmsec <command>/);
    expect(help.code).toBe(0);
    const none = await cli([]);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^usage: llmsec <command>/);
    expect(none.code).toBe(2);
  });

  it("llmsec help COMMAND: that command's --help; llmsec help NOSUCH: unknown command, exit 2", async () => {
    for (const command of ['replay', 'test-rules', 'limits', 'detector']) {
      const viaHelp = await cli(['help', command]);
      const direct = await cli([command, '--help']);
      expect(viaHelp.stdout).toMatch(new RegExp(`^usage: llmsec ${command} `));
      expect(viaHelp.stdout).toBe(direct.stdout);
      expect(viaHelp.code).toBe(0);
    }
    const unknown = await cli(['help', 'nosuch']);
    expect(unknown.stderr).toMatch(/^llmsec: unknown command "nosuch"/);
    expect(unknown.code).toBe(2);
  });

  it('llmsec --version and -v: the llmsec package version on stdout, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const { code, stdout, stderr } = await cli([flag]);
      expect(stdout).toBe(`llmsec ${version}\n`);
      expect(stderr).toBe('');
      expect(code).toBe(0);
    }
  });

  it('a usage error still goes to stderr with exit 2', async () => {
    const { code, stdout, stderr } = await cli(['limits', 'frob', 'u-1', '--redis', 'redis://127.0.0.1:1']);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/expected show, reset, lift, ban or bans/);
    expect(code).toBe(2);
  });
});
