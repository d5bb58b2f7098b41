import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

/**
 * The yaml library, loaded at its first use rather than when this package is imported: it is
 * 72 modules, and a process that parses no rule file (the built-in rules are data, see
 * default-rules.ts) never needs it. Synchronous (require), so the parsers that use it stay
 * synchronous; the package's `node` export is CommonJS, the same module an import would load.
 */
let loaded: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}
