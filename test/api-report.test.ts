import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateReports, PACKAGE_DIRS, REPORT_DIR } from '../scripts/api-report.ts';

/**
 * The checked-in API reports (api/*.api.md) match the sources: a change to what a package
 * exports, or to the signature of something it exports, must come with the regenerated report
 * (`npm run api:update`), so that it is a visible, reviewed diff.
 */
describe('public API reports', () => {
  const reports = generateReports();

  it('has one report per published package and no stale report files', () => {
    expect([...reports.keys()].sort()).toEqual(PACKAGE_DIRS.map((d) => `${d}.api.md`).sort());
    const onDisk = existsSync(REPORT_DIR) ? readdirSync(REPORT_DIR).filter((f) => f.endsWith('.api.md')) : [];
    expect(onDisk.sort()).toEqual([...reports.keys()].sort());
  });

  it.each(PACKAGE_DIRS)('api/%s.api.md is up to date (run `npm run api:update` and commit it)', (dir) => {
    const file = join(REPORT_DIR, `${dir}.api.md`);
    const expected = reports.get(`${dir}.api.md`)!;
    expect(existsSync(file), `api/${dir}.api.md is missing: run npm run api:update`).toBe(true);
    const actual = readFileSync(file, 'utf8');
    expect(actual, `api/${dir}.api.md is out of date: run npm run api:update and commit the diff`).toBe(
      expected,
    );
  });

  it('reports no export * re-exports and no internal helpers in the main entry points', () => {
    for (const dir of PACKAGE_DIRS) {
      const index = readFileSync(join(REPORT_DIR, '..', 'packages', dir, 'src', 'index.ts'), 'utf8');
      expect(index, `packages/${dir}/src/index.ts`).not.toMatch(/^export \* from/m);
    }
    const main = (dir: string): string => reports.get(`${dir}.api.md`)!.split('\n## ')[1]!;
    for (const internal of ['ruleSchema', 'forEachLine', 'RecentIds'])
      expect(main('detect')).not.toMatch(new RegExp(`\\b${internal}\\b`));
    for (const internal of ['rlKey', 'leaseKey', 'connectRedis', 'readJsonBody', 'fastifyRateLimit']) {
      expect(main('ratelimit')).not.toMatch(new RegExp(`\\b${internal}\\b`));
    }
    for (const internal of ['ErrorFunnel', 'errorType', 'untraced'])
      expect(main('core')).not.toMatch(new RegExp(`\\b${internal}\\b`));
    for (const internal of ['reportTelemetryError', 'setTelemetryErrorCounter', 'BoundedLabel']) {
      expect(main('sdk')).not.toMatch(new RegExp(`\\b${internal}\\b`));
    }
  });
});
