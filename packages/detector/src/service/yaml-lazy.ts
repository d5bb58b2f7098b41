import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

/**
 * The yaml library, loaded when a config file is read rather than when the service module is
 * imported: it is 72 modules, and a detector started with flags only never needs it (as
 * @llmsec/detect's own yaml-lazy.ts for rule files). Synchronous (require), so loadConfig stays
 * synchronous; the package's `node` export is CommonJS, the same module an import would load.
 */
let loaded: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}
