/** Hash tags remembered at most; past it the oldest goes (a probe then covers the newest). */
export const MAX_PROBE_TAGS = 16;

/**
 * The degraded probe's reach on a Redis Cluster. The probe writes `<prefix>:probe`, whose slot
 * one master owns: a Cluster whose other master refused writes (out of memory under
 * `noeviction`, a demoted node) passed the probe, went back to shared mode, failed its next
 * round on that master and degraded again, an episode per probe interval. So the hash tag of
 * each key whose call failed is noted, and the probe also writes `<prefix>:<tag>:probe`, which
 * lands in the same slot, so on the same master, as the failed key (on a standalone Redis, the
 * same server: one more short write each). At most MAX_PROBE_TAGS tags, the newest kept; a tag
 * is forgotten once the probe has written to it.
 */
export class ProbeTags {
  private readonly tags = new Set<string>();

  /** A call on `key` failed: its slot is probed until a probe's write there succeeds. */
  note(key: string): void {
    const open = key.indexOf('{');
    const close = open < 0 ? -1 : key.indexOf('}', open + 1);
    if (close <= open + 1) return; // no hash tag: the slot of the whole key, not reproducible
    const tag = key.slice(open, close + 1);
    this.tags.delete(tag); // re-noted: now the newest
    this.tags.add(tag);
    if (this.tags.size > MAX_PROBE_TAGS) this.tags.delete(this.tags.values().next().value!);
  }

  /** The tags to probe now, each as its probe key under `prefix`. */
  keys(prefix: string): { tag: string; key: string }[] {
    return [...this.tags].map((tag) => ({ tag, key: `${prefix}:${tag}:probe` }));
  }

  /** The probe's write to `tag`'s slot succeeded. */
  forget(tag: string): void {
    this.tags.delete(tag);
  }
}
