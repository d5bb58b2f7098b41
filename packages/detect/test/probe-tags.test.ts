import { describe, expect, it } from 'vitest';
import { MAX_PROBE_TAGS, ProbeTags } from '../src/state/probe-tags.ts';

// The degraded probe's extra keys: the hash tags of failed calls, bounded, newest kept.
describe('ProbeTags', () => {
  it('probes the slot of each failed key once, under the prefix, until forgotten', () => {
    const tags = new ProbeTags();
    tags.note('llmsec:det:{fleet:u:alice}');
    tags.note('llmsec:det:{fleet}:clock');
    tags.note('llmsec:det:{fleet:u:alice}'); // the same slot: one probe
    tags.note('llmsec:det:probe'); // no hash tag: nothing to aim at
    tags.note('llmsec:det:{}:x'); // an empty tag hashes the whole key: not reproducible
    expect(tags.keys('llmsec:det')).toEqual([
      { tag: '{fleet}', key: 'llmsec:det:{fleet}:probe' },
      { tag: '{fleet:u:alice}', key: 'llmsec:det:{fleet:u:alice}:probe' },
    ]);
    tags.forget('{fleet}');
    expect(tags.keys('p').map((k) => k.key)).toEqual(['p:{fleet:u:alice}:probe']);
  });

  it(`keeps at most ${MAX_PROBE_TAGS}, the newest`, () => {
    const tags = new ProbeTags();
    for (let i = 0; i < 10_000; i++) tags.note(`p:{g${i}}`);
    const keys = tags.keys('p');
    expect(keys).toHaveLength(MAX_PROBE_TAGS);
    expect(keys.at(-1)!.tag).toBe('{g9999}');
    expect(keys[0]!.tag).toBe(`{g${10_000 - MAX_PROBE_TAGS}}`);
  });
});
