import { Buffer } from 'node:buffer';
import { utf8Prefix } from './cut-values.ts';
import { droppedValues } from './dropped-values.ts';
import { OtlpDecodeError, OtlpRecordOverCapError, type ResolvedDecodeLimits } from './limits.ts';
import type { AttrValue } from './types.ts';

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/#structure).
export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_I32 = 5;

const TWO_32 = 4294967296;

// Direct-mapped cache of short strings, shared by all readers: bounded (4,096 slots of at
// most 48 bytes), and a collision only costs a miss, so hostile input cannot grow it.
// Each slot keeps its string, a copy of its bytes (a hit is confirmed by comparing bytes with
// bytes: two typed-array loads per character, where charCodeAt on a string that may since have
// become a thin or internalized string costs several times more), and a fingerprint of the
// last string that missed there. A string only replaces a slot's string on its second miss
// there in a row (same fingerprint): unique values (event ids, timestamps: one or two per
// record) would otherwise keep evicting the keys, user ids and categories that do repeat.
const STRING_CACHE_SIZE = 4096;
const MAX_CACHED_STRING = 48;
const stringCache: (string | undefined)[] = new Array<string | undefined>(STRING_CACHE_SIZE).fill(undefined);
const cachedBytes = new Uint8Array(STRING_CACHE_SIZE * MAX_CACHED_STRING);
const cachedView = new DataView(cachedBytes.buffer);
const cachedLength = new Uint8Array(STRING_CACHE_SIZE); // 0: empty slot
const lastMiss = new Int32Array(STRING_CACHE_SIZE);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

// Buffer's slice methods without the argument normalization and encoding lookup of
// Buffer#toString, which cost as much as the decoding itself for the one or two short unique
// strings per record (the callers have checked the bounds already). They are Node's own
// (Buffer#toString calls them), not documented, hence the fallback to toString.
type Slicer = (buf: Buffer, start: number, end: number) => string;
const nodeSlices = Buffer.prototype as unknown as Partial<
  Record<'utf8Slice' | 'hexSlice', (this: Buffer, start: number, end: number) => string>
>;
const utf8Slice: Slicer =
  typeof nodeSlices.utf8Slice === 'function'
    ? (buf, start, end) =>
        (buf as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);
const hexSlice: Slicer =
  typeof nodeSlices.hexSlice === 'function'
    ? (buf, start, end) => (buf as unknown as { hexSlice(s: number, e: number): string }).hexSlice(start, end)
    : (buf, start, end) => buf.toString('hex', start, end);

/**
 * A bounds-checked cursor over protobuf bytes: one forward pass, no recursion of its own, so a
 * message costs time linear in its size. Every read checks against `end` (the enclosing
 * message's end), so a truncated or lying length field is an OtlpDecodeError, never a read past
 * the buffer or a loop. Message-level decoders (proto-common, proto-logs, proto-traces) drive it.
 */
export class ProtoReader {
  readonly buf: Buffer;
  readonly limits: ResolvedDecodeLimits;
  readonly view: DataView;
  pos = 0;
  /**
   * The last value read with its over-cap strings cut rather than dropped (cut-values.ts): set
   * by stringValue (its first units, or undefined when it kept the value) and by the AnyValue
   * decoders for arrays, for the caller to take.
   */
  cut: AttrValue | undefined = undefined;

  constructor(bytes: Uint8Array, limits: ResolvedDecodeLimits) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = limits;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  get length(): number {
    return this.buf.length;
  }

  /** A varint as an unsigned 32-bit number (higher bits of a longer varint are dropped). */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw truncated();
    let b = buf[pos++]!;
    let v = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos;
      return v;
    }
    for (let shift = 7; shift < 35; shift += 7) {
      if (pos >= end) throw truncated();
      b = buf[pos++]!;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    // Bytes 6..10 of a 64-bit varint: only their continuation bits matter here.
    for (let i = 0; i < 5; i++) {
      if (pos >= end) throw truncated();
      if (buf[pos++]! < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
    }
    throw new OtlpDecodeError('malformed varint');
  }

  /** An int64 varint: a number when it is a safe integer, else its decimal string. */
  int64(end: number): number | string {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    let done = false;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw truncated();
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        done = true;
        break;
      }
    }
    if (!done) {
      if (pos >= end) throw truncated();
      b = buf[pos++]!;
      lo |= (b & 0x7f) << 28;
      hi = (b & 0x7f) >> 4;
      if (b >= 0x80) {
        for (let shift = 3; shift < 38; shift += 7) {
          if (pos >= end) throw truncated();
          b = buf[pos++]!;
          hi |= (b & 0x7f) << shift;
          if (b < 0x80) {
            done = true;
            break;
          }
        }
        if (!done) throw new OtlpDecodeError('malformed varint');
      }
    }
    this.pos = pos;
    return int64Value(lo >>> 0, hi | 0);
  }

  /** A fixed64 nanosecond timestamp, in milliseconds. */
  fixed64Millis(end: number): number {
    const pos = this.pos;
    if (end - pos < 8) throw truncated();
    const buf = this.buf;
    const lo = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
    const hi = (buf[pos + 4]! | (buf[pos + 5]! << 8) | (buf[pos + 6]! << 16) | (buf[pos + 7]! << 24)) >>> 0;
    this.pos = pos + 8;
    // 2^32 ns = 4294 ms + 967296 ns: the integer part stays exact and the sub-millisecond part
    // (< 2^53) is divided once, so a whole-millisecond time decodes to exactly that integer.
    return hi * 4294 + (hi * 967296 + lo) / 1e6;
  }

  double(end: number): number {
    const pos = this.pos;
    if (end - pos < 8) throw truncated();
    const buf = this.buf;
    for (let i = 0; i < 8; i++) f64Bytes[i] = buf[pos + i]!;
    this.pos = pos + 8;
    return f64[0]!;
  }

  /** Reads a length prefix and returns the end offset of the field it announces. */
  lengthEnd(end: number): number {
    const len = this.uint32(end);
    const fieldEnd = this.pos + len;
    if (fieldEnd > end) throw truncated();
    return fieldEnd;
  }

  /**
   * A length-delimited UTF-8 string, within maxStringBytes (a span's name, a status message, a
   * scope's name): past it, the record it belongs to is rejected alone (over-cap.ts).
   */
  string(end: number): string {
    const fieldEnd = this.lengthEnd(end);
    const len = fieldEnd - this.pos;
    if (len > this.limits.maxStringBytes) {
      throw new OtlpRecordOverCapError(
        `string of ${len} bytes exceeds maxStringBytes (${this.limits.maxStringBytes})`,
      );
    }
    return this.utf8(fieldEnd);
  }

  /**
   * An attribute's key: undefined, skipped and counted as a dropped value, when over
   * maxStringBytes (the caller drops the attribute, not the request): an llmsec record's
   * metadata key may be that long in a log line too, where core drops it (EVENT_FIELD_CAPS).
   */
  key(end: number): string | undefined {
    const fieldEnd = this.lengthEnd(end);
    if (fieldEnd - this.pos <= this.limits.maxStringBytes) return this.utf8(fieldEnd);
    this.pos = fieldEnd;
    droppedValues.count++;
    return undefined;
  }

  /**
   * A log record's event_name or a span event's name: over maxStringBytes, its first units
   * (cut-values.ts; counted as a dropped value), not a failed request. The name only says whether
   * the record is an llmsec event (`llmsec.` and not `llmsec.alert`), the event's category is its
   * attribute; a sender names the record after a category, which a line may hold that long (cut).
   */
  name(end: number): string {
    const fieldEnd = this.lengthEnd(end);
    const start = this.pos;
    if (fieldEnd - start <= this.limits.maxStringBytes) return this.utf8(fieldEnd);
    this.pos = fieldEnd;
    droppedValues.count++;
    return utf8Prefix(this.buf, start, fieldEnd);
  }

  /**
   * An AnyValue's string: null, skipped, when over maxStringBytes. A captured prompt of a
   * GenAI span can be that long (a user's own input): failing the request for it would make
   * the Collector drop every other record batched with it (400 is final), so it costs only
   * its own attribute. Its first units are left in `cut` (for an llmsec event's field, which
   * every reader cuts: cut-values.ts).
   */
  stringValue(end: number): string | null {
    const fieldEnd = this.lengthEnd(end);
    const start = this.pos;
    if (fieldEnd - start > this.limits.maxStringBytes) {
      // Its first units only (at most PREFIX_BYTES read, whatever its length), kept beside.
      this.cut = utf8Prefix(this.buf, start, fieldEnd);
      this.pos = fieldEnd;
      droppedValues.count++;
      return null;
    }
    this.cut = undefined;
    return this.utf8(fieldEnd);
  }

  /** The UTF-8 text from pos to fieldEnd (its length already checked), through the cache. */
  private utf8(fieldEnd: number): string {
    const start = this.pos;
    const len = fieldEnd - start;
    this.pos = fieldEnd;
    const buf = this.buf;
    if (len > MAX_CACHED_STRING || len === 0) return len === 0 ? '' : utf8Slice(buf, start, fieldEnd);
    // Short strings (attribute keys, categories, severities, user ids, model names) repeat
    // across records and requests: one cached instance each saves the allocation, and later
    // property stores and comparisons with that instance skip re-hashing and internalizing.
    // The slot comes from the length and four sampled bytes (cheap); a hit is then confirmed
    // byte by byte against the cached copy of the bytes. Unique values (ids, timestamps) mostly
    // differ near their end: comparing from the end fails them fast.
    const last = fieldEnd - 1;
    let h = Math.imul(len, 0x9e3779b1) ^ buf[last]!;
    h = Math.imul(h, 0x01000193) ^ buf[last - (len >> 3)]!;
    h = Math.imul(h, 0x01000193) ^ buf[last - (len >> 1)]!;
    h = Math.imul(h, 0x01000193) ^ buf[start]!;
    const slot = (h ^ (h >>> 13)) & (STRING_CACHE_SIZE - 1);
    if (cachedLength[slot] === len) {
      // Four bytes at a time from the end (DataView reads are unaligned-safe and inlined), then
      // the first len % 4 bytes one by one.
      const view = this.view;
      const base = slot * MAX_CACHED_STRING - start;
      let i = fieldEnd - 4;
      while (i >= start && cachedView.getInt32(base + i) === view.getInt32(i)) i -= 4;
      if (i < start) {
        i += 3;
        while (i >= start && cachedBytes[base + i] === buf[i]) i--;
        if (i < start) return stringCache[slot]!;
      }
    }
    // A miss. The cache maps exact bytes to their UTF-8 decoding, so any short string may be
    // cached, ASCII or not (invalid sequences decode to U+FFFD either way).
    const str = utf8Slice(buf, start, fieldEnd);
    // The admission fingerprint adds the three bytes before the last (where sequential ids and
    // timestamps differ) to the slot hash; shorter strings are covered by the slot hash alone.
    let fingerprint = h;
    if (len > 4) {
      fingerprint = Math.imul(fingerprint, 0x01000193) ^ buf[last - 1]!;
      fingerprint = Math.imul(fingerprint, 0x01000193) ^ buf[last - 2]!;
      fingerprint = Math.imul(fingerprint, 0x01000193) ^ buf[last - 3]!;
    }
    if (cachedLength[slot] === 0 || lastMiss[slot] === fingerprint) {
      stringCache[slot] = str;
      cachedLength[slot] = len;
      cachedBytes.set(buf.subarray(start, fieldEnd), slot * MAX_CACHED_STRING);
    }
    lastMiss[slot] = fingerprint;
    return str;
  }

  /**
   * An AnyValue's bytes, copied (so no decoded value pins the request buffer); null, skipped,
   * when over maxStringBytes, as stringValue.
   */
  bytesValue(end: number): Uint8Array | null {
    const fieldEnd = this.lengthEnd(end);
    const len = fieldEnd - this.pos;
    if (len > this.limits.maxStringBytes) {
      this.pos = fieldEnd;
      droppedValues.count++;
      return null;
    }
    const out = new Uint8Array(len);
    out.set(this.buf.subarray(this.pos, fieldEnd));
    this.pos = fieldEnd;
    return out;
  }

  /**
   * A trace or span id as lowercase hex: '' when empty or all zero (the "invalid" id of W3C
   * trace context), and '' for a wrong length too (the record is still usable without it).
   */
  id(end: number, size: 8 | 16): string {
    const fieldEnd = this.lengthEnd(end);
    const start = this.pos;
    this.pos = fieldEnd;
    if (fieldEnd - start !== size) return '';
    const buf = this.buf;
    for (let i = start; i < fieldEnd; i++) {
      if (buf[i] !== 0) return hexSlice(buf, start, fieldEnd);
    }
    return '';
  }

  /** Skips one field of the given wire type (unknown fields are ignored, as proto3 requires). */
  skip(wireType: number, end: number): void {
    switch (wireType) {
      case WT_VARINT:
        this.uint32(end);
        return;
      case WT_I64:
        if (end - this.pos < 8) throw truncated();
        this.pos += 8;
        return;
      case WT_LEN:
        this.pos = this.lengthEnd(end);
        return;
      case WT_I32:
        if (end - this.pos < 4) throw truncated();
        this.pos += 4;
        return;
      default:
        // Groups (3, 4) are not used by OTLP; anything else is not protobuf.
        throw new OtlpDecodeError(`unsupported wire type ${wireType}`);
    }
  }
}

function truncated(): OtlpDecodeError {
  return new OtlpDecodeError('truncated message');
}

/** A two's-complement int64 from its halves: a number when safe, else a decimal string. */
export function int64Value(lo: number, hi: number): number | string {
  // |hi| < 2^21 keeps hi * 2^32 + lo exact in a double; isSafeInteger then settles the edge.
  if (hi >= -0x200000 && hi < 0x200000) {
    const v = hi * TWO_32 + lo;
    if (Number.isSafeInteger(v)) return v;
  }
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo)).toString();
}

/** Throws unless a known field arrived with the wire type its schema gives it. */
export function expectWireType(actual: number, expected: number, field: string): void {
  if (actual !== expected)
    throw new OtlpDecodeError(`field ${field} has wire type ${actual}, expected ${expected}`);
}
