// Type-aware linting: no-floating-promises needs the TypeScript compiler API, which is why the
// toolchain is pinned to TypeScript 6.0 (typescript-eslint does not support TypeScript 7).
import tseslint from 'typescript-eslint';

const PRETENURED =
  'A function literal assigned straight to a property is allocated in the old generation (V8 pretenures it) and keeps what it captures past the scavenges: make it in a small function or a const first.';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'out/**', 'demo-out/**', '**/*.js', '**/*.cjs', '**/*.mjs'],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      'no-debugger': 'error',
    },
  },
  {
    // V8's parser allocates a function literal assigned straight to a property (`o.f = () => …`)
    // in the old generation: made per call, the dead closure keeps its context and the call's
    // objects through every scavenge (packages/sdk/src/instrumentation/README.md, 'The promotion
    // was a closure'). Make it in a small function or a `const` first. The sdk's sources: its
    // code runs per call (ratelimit's once-per-client sendCommand wrapper is meant to live long).
    files: ['packages/sdk/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "AssignmentExpression[left.type='MemberExpression'] > :function.right",
          message: PRETENURED,
        },
        {
          // Under a type assertion (`o.f = (() => …) as T`): erased, still the literal to V8.
          selector:
            "AssignmentExpression[left.type='MemberExpression'] > :matches(TSAsExpression, TSSatisfiesExpression, TSNonNullExpression).right > :function",
          message: PRETENURED,
        },
      ],
    },
  },
);
