import { ATTR_METADATA_PREFIX } from './attributes.ts';

// `llmsec.metadata.<key>` attribute names → `<key>`, one string instance per name. Decoding an
// event used to slice a new string for every metadata attribute, and every such string then had
// to be flattened, hashed and internalized again when stored as a property key. The same few
// dozen names repeat in every record, so a lookup in this map (whose keys are the already
// internalized attribute names, hash cached) replaces all of that with one probe.
//
// Bounded: names come from senders, so at most MAX_ENTRIES names of at most MAX_KEY_LENGTH
// characters are kept (a few hundred KB at worst); when full the map starts over, so a sender
// cycling through unique names only costs itself the misses.
const MAX_ENTRIES = 2048;
const MAX_KEY_LENGTH = 128;
const names = new Map<string, string>();
const PREFIX_LENGTH = ATTR_METADATA_PREFIX.length;

/** The metadata key of an attribute name that starts with ATTR_METADATA_PREFIX. */
export function metadataKey(attribute: string): string {
  const cached = names.get(attribute);
  if (cached !== undefined) return cached;
  const key = attribute.slice(PREFIX_LENGTH);
  if (attribute.length <= MAX_KEY_LENGTH) {
    if (names.size >= MAX_ENTRIES) names.clear();
    names.set(attribute, key);
  }
  return key;
}

/** Number of cached names (tests check the bound). */
export function metadataKeyCacheSize(): number {
  return names.size;
}
