import { ATTR_METADATA_PREFIX } from './attributes.ts';

// `llmsec.metadata.<key>` attribute names → `<key>`, one string instance per name, and other
// names → "not metadata". Decoding an event used to test every attribute name for the prefix
// and slice a new string for every metadata one, which then had to be flattened, hashed and
// internalized again when stored as a property key. The same few dozen names repeat in every
// record, so one probe of this map (its keys are the attribute objects' own, already
// internalized, names, hash cached) replaces all of that.
//
// Bounded: names come from senders, so at most MAX_ENTRIES names of at most MAX_KEY_LENGTH
// characters are kept (a few hundred KB at worst); when full the map starts over, so a sender
// cycling through unique names only costs itself the misses.
const MAX_ENTRIES = 2048;
const MAX_KEY_LENGTH = 128;
const names = new Map<string, string | null>(); // null: not a metadata attribute
const PREFIX_LENGTH = ATTR_METADATA_PREFIX.length;

/**
 * The metadata key of an attribute name (`llmsec.metadata.model` → `model`), or undefined when
 * the name is not a metadata attribute. Both answers are cached: one map probe per attribute
 * replaces the prefix comparison as well as the slice.
 */
export function metadataKey(attribute: string): string | undefined {
  const cached = names.get(attribute);
  if (cached !== undefined) return cached ?? undefined;
  const key = attribute.startsWith(ATTR_METADATA_PREFIX) ? attribute.slice(PREFIX_LENGTH) : undefined;
  if (attribute.length <= MAX_KEY_LENGTH) {
    if (names.size >= MAX_ENTRIES) names.clear();
    names.set(attribute, key ?? null);
  }
  return key;
}

/** Number of cached names (tests check the bound). */
export function metadataKeyCacheSize(): number {
  return names.size;
}
