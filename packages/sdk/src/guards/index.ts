export { piiGuard } from './pii.ts';
export type { PiiGuard, PiiGuardOptions } from './pii.ts';
export { systemPromptLeakageGuard } from './system-prompt-leakage.ts';
export type { SystemPromptLeakageGuard, SystemPromptLeakageOptions } from './system-prompt-leakage.ts';
export { toolAllowlistGuard } from './tool-allowlist.ts';
export type { ToolAllowlistGuard, ToolAllowlistOptions } from './tool-allowlist.ts';
export { patternGuard, keywordGuard, PROMPT_INJECTION_PATTERNS } from './pattern.ts';
export type { PatternGuardOptions } from './pattern.ts';
export { defaultGuards } from './defaults.ts';
