import { RuleFileError } from '@llmsec/detect';
import { formatRuleTestResults, runRuleTestFile } from '@llmsec/detect/rule-tests';
import { UsageError, type CliIO, type Command } from '../io.ts';

const USAGE = `usage: llmsec test-rules FILE...

Runs rule unit tests (in the spirit of \`promtool test rules\`): each FILE lists input events
and the alerts they must produce, in YAML (format: the @llmsec/detect README,
https://github.com/llmsec/llmsec/blob/main/packages/detect/README.md#llmsec-test-rules; the
built-in rules' own tests: node_modules/@llmsec/detect/rules/tests/). Prints PASS or FAIL per
test with a diff of missing (-) and unexpected (+) alerts.

Exit status: 0 all passed, 1 a test failed, 2 a file could not be used (unreadable, invalid, a
test that cannot fail such as an only_rules id naming no rule, or its rule file with no rules).`;

export const command: Command = {
  summary: 'run rule unit tests (events in, expected alerts out) from YAML',
  run(argv: string[], io: CliIO): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(`${USAGE}\n`);
      return Promise.resolve(0);
    }
    const files = argv.filter((a) => !a.startsWith('-'));
    const unknown = argv.find((a) => a.startsWith('-') && a !== '-');
    if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}\n\n${USAGE}`);
    if (files.length === 0) throw new UsageError(`a test file is required\n\n${USAGE}`);
    let code = 0;
    for (const file of files) {
      try {
        const results = runRuleTestFile(file, {
          onWarning: (message) => io.stderr.write(`llmsec test-rules: warning: ${message}\n`),
        });
        // The path as typed, not its basename: several folders may hold a file of one name.
        io.stdout.write(formatRuleTestResults(file, results));
        if (results.some((r) => !r.passed)) code = Math.max(code, 1);
      } catch (err) {
        if (!(err instanceof RuleFileError)) throw err;
        io.stderr.write(`llmsec test-rules: ${err.message}\n`);
        code = 2;
      }
    }
    return Promise.resolve(code);
  },
};
