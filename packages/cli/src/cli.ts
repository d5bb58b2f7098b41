import { readFileSync } from 'node:fs';
import { UsageError, type CliIO, type Command } from './io.ts';

/** Subcommands, each in its own module under commands/. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  detector: () => import('./commands/detector.ts'),
  limits: () => import('./commands/limits.ts'),
  replay: () => import('./commands/replay.ts'),
  'test-rules': () => import('./commands/test-rules.ts'),
};

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  // `llmsec help replay` is `llmsec replay --help` (what git, npm and docker do).
  if (name === 'help' && rest.length > 0) return runCli([rest[0]!, '--help'], io);
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(await usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  if (name === undefined) {
    // No command is a usage error: the usage goes where errors go, so `llmsec > out` shows it.
    io.stderr.write(await usage());
    return 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`llmsec: unknown command "${name}"\n\n${await usage()}`);
    return 2;
  }
  const { command } = await load();
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`llmsec ${name}: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`llmsec ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/**
 * The `llmsec` package's version, from its package.json beside src/ (or dist/). A bundled CLI
 * has none there (or another package's): it says so rather than print a wrong version.
 */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    if (pkg.name === 'llmsec' && typeof pkg.version === 'string') return `llmsec ${pkg.version}`;
  } catch {
    // not installed as a package (a bundle): below
  }
  return 'llmsec (version unknown: no llmsec package.json beside the CLI)';
}

async function usage(): Promise<string> {
  const lines = ['usage: llmsec <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const { command } = await load();
    lines.push(`  ${name.padEnd(12)} ${command.summary}`);
  }
  lines.push('', '`llmsec <command> --help` (or `llmsec help <command>`): its options. `llmsec --version`.');
  return lines.join('\n') + '\n';
}
