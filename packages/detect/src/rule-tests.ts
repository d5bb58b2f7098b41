// @llmsec/detect/rule-tests: rule unit-test files (the format `llmsec test-rules` runs, like
// `promtool test rules`), for tools that run them outside the CLI.
export { loadRuleTestFile, resolveTime, DEFAULT_TEST_START } from './rule-test-file.ts';
export type { RuleTestFile, RuleTestCase, ExpectedAlert } from './rule-test-file.ts';
export { runRuleTestFile, formatRuleTestResults } from './rule-test-runner.ts';
export type { RuleTestResult } from './rule-test-runner.ts';
