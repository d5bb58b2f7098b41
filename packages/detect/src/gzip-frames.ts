import { crc32 } from 'node:zlib';

/** A file name or comment in a gzip header longer than this is no gzip header (gzip writes a basename). */
const MAX_HEADER_TEXT = 64 << 10;

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

type Phase =
  | 'fixed' // the 10 fixed header bytes (magic, method, flags, time, extra flags, OS)
  | 'xlen' // FEXTRA's 2-byte length
  | 'extra' // FEXTRA's bytes, skipped
  | 'name' // FNAME, zero-terminated, skipped
  | 'comment' // FCOMMENT, zero-terminated, skipped
  | 'hcrc' // FHCRC: the header's CRC32, low 16 bits
  | 'body' // raw deflate
  | 'trailer' // CRC32 and ISIZE of the member's text
  | 'zeros'; // zero bytes after the last member (tape or dd padding), ignored as gzip does

/**
 * The framing of a gzip file (RFC 1952) read member by member, as `gzip -d` reads one: members
 * end to end (`cat a.gz b.gz`, logrotate's appends), each header parsed here with caps, its
 * deflate body left to the caller (`inBody`: zlib inflates it, `text` takes what came out,
 * `bodyEnded` says zlib stopped at its end), its CRC32 and length then checked. After the last
 * whole member, zero bytes are padding (ignored, as gzip does); any other byte is an error
 * saying at which byte. `end` says whether the file ended inside a member. Linear: each byte is
 * looked at once, and nothing of a header is kept but its CRC.
 */
export class GzipFrames {
  #phase: Phase = 'fixed';
  /** Bytes of the file read so far (the offset of the next byte). */
  #offset = 0;
  /** Whole members read. */
  #members = 0;
  /** Where the current member (or the bytes after the last whole one) began. */
  #memberAt = 0;
  /** The fixed header or the trailer, as it arrives (they may be cut across chunks). */
  readonly #small = Buffer.alloc(10);
  #smallHave = 0;
  #flags = 0;
  /** Bytes left of FEXTRA, or the length of FNAME / FCOMMENT so far. */
  #count = 0;
  /** CRC32 of the header so far (FHCRC checks its low 16 bits). */
  #headerCrc = 0;
  /** CRC32 and length (mod 2^32) of the current member's text so far. */
  #crc = 0;
  #size = 0;

  /** In a member's deflate body: the caller inflates from here until `bodyEnded`. */
  get inBody(): boolean {
    return this.#phase === 'body';
  }

  /** Bytes of the file read so far (the offset of the next byte). */
  get offset(): number {
    return this.#offset;
  }

  /** Body bytes zlib consumed. */
  consumed(bytes: number): void {
    this.#offset += bytes;
  }

  /** Text zlib inflated from the body: into the member's CRC and length. */
  text(piece: Buffer): void {
    this.#crc = crc32(piece, this.#crc);
    this.#size = (this.#size + piece.length) % 2 ** 32;
  }

  /** Zlib reached the end of the deflate body: its trailer follows. */
  bodyEnded(): void {
    this.#phase = 'trailer';
    this.#smallHave = 0;
  }

  /** Zlib's error on the current body, said with where it is. */
  damaged(error: Error, from: number): Error {
    return new Error(
      `${error.message} (gzip member ${this.#members + 1} from byte ${this.#memberAt}, ` +
        `damaged in the compressed bytes from ${from}; its text before that was read)`,
    );
  }

  /** Header, trailer or padding bytes from `chunk[at]` (not in a body); returns where it stopped. */
  parse(chunk: Buffer, at: number): number {
    while (at < chunk.length && !this.inBody) at = this.#parse(chunk, at);
    return at;
  }

  /** The input ended: an error if it ended inside a member (after all its text was yielded). */
  end(): void {
    const between = this.#phase === 'zeros' || (this.#phase === 'fixed' && this.#smallHave === 0);
    if (!between || this.#members === 0) throw new Error('unexpected end of file');
  }

  /** Header, trailer or padding bytes from `chunk[at]`; returns where it stopped. */
  #parse(chunk: Buffer, at: number): number {
    const start = at;
    switch (this.#phase) {
      case 'fixed': {
        if (this.#smallHave === 0 && this.#members > 0 && chunk[at] === 0) {
          this.#phase = 'zeros';
          return at;
        }
        at = this.#collect(chunk, at, 10);
        // The magic, checked as soon as its bytes are here (a lone 1f, then the end, is a cut member).
        this.#checkMagic();
        if (this.#smallHave === 10) this.#startHeader();
        break;
      }
      case 'xlen':
        at = this.#collect(chunk, at, 2);
        if (this.#smallHave === 2) {
          this.#count = this.#small.readUInt16LE(0);
          this.#phase = 'extra';
        }
        break;
      case 'extra': {
        const take = Math.min(this.#count, chunk.length - at);
        at += take;
        this.#count -= take;
        if (this.#count === 0) this.#nextField(FEXTRA);
        break;
      }
      case 'name':
      case 'comment': {
        const nul = chunk.indexOf(0, at);
        const end = nul === -1 ? chunk.length : nul + 1;
        this.#count += end - at;
        if (this.#count > MAX_HEADER_TEXT + 1)
          throw this.#notAMember(`its ${this.#phase === 'name' ? 'file name' : 'comment'} is over 64 KiB`);
        at = end;
        if (nul !== -1) this.#nextField(this.#phase === 'name' ? FNAME : FCOMMENT);
        break;
      }
      case 'hcrc':
        at = this.#collect(chunk, at, 2);
        if (this.#smallHave === 2) {
          // The CRC covers the header up to itself: the bytes before these two.
          if (this.#small.readUInt16LE(0) !== (this.#headerCrc & 0xffff))
            throw this.#notAMember('its header fails its CRC16 check (FHCRC)');
          this.#startBody();
        }
        this.#offset += at - start;
        return at;
      case 'trailer':
        at = this.#collect(chunk, at, 8);
        this.#offset += at - start;
        if (this.#smallHave === 8) this.#endMember();
        return at;
      case 'zeros': {
        while (at < chunk.length && chunk[at] === 0) at++;
        this.#offset += at - start;
        if (at < chunk.length) throw this.#trailingGarbage();
        return at;
      }
      case 'body':
        throw new Error('unreachable: the body is inflated, not parsed');
    }
    this.#headerCrc = crc32(chunk.subarray(start, at), this.#headerCrc);
    this.#offset += at - start;
    return at;
  }

  /** Up to `need` bytes into the small buffer; returns where it stopped in `chunk`. */
  #collect(chunk: Buffer, at: number, need: number): number {
    const take = Math.min(need - this.#smallHave, chunk.length - at);
    chunk.copy(this.#small, this.#smallHave, at, at + take);
    this.#smallHave += take;
    return at + take;
  }

  #checkMagic(): void {
    if (this.#small[0] !== 0x1f || (this.#smallHave >= 2 && this.#small[1] !== 0x8b))
      throw this.#members > 0 ? this.#trailingGarbage() : this.#notAMember('it does not begin with 1f 8b');
  }

  #startHeader(): void {
    const method = this.#small[2]!;
    this.#flags = this.#small[3]!;
    if (method !== 8) throw this.#notAMember(`its compression method is ${method}, not deflate (8)`);
    if ((this.#flags & FRESERVED) !== 0)
      throw this.#notAMember(`its flags 0x${this.#flags.toString(16)} set reserved bits`);
    // The fixed bytes go into the header CRC with the rest (#parse adds the chunk's bytes).
    this.#nextField(0);
  }

  /** The header's next field after `done` (0: after the fixed bytes), or the body. */
  #nextField(done: number): void {
    this.#smallHave = 0;
    this.#count = 0;
    const order = [FEXTRA, FNAME, FCOMMENT, FHCRC];
    for (const field of order.slice(done === 0 ? 0 : order.indexOf(done) + 1)) {
      if ((this.#flags & field) === 0) continue;
      this.#phase =
        field === FEXTRA ? 'xlen' : field === FNAME ? 'name' : field === FCOMMENT ? 'comment' : 'hcrc';
      return;
    }
    this.#startBody();
  }

  #startBody(): void {
    this.#phase = 'body';
    this.#crc = 0;
    this.#size = 0;
  }

  #endMember(): void {
    const crc = this.#small.readUInt32LE(0);
    const size = this.#small.readUInt32LE(4);
    const member = `gzip member ${this.#members + 1} (bytes ${this.#memberAt}-${this.#offset - 1})`;
    if (crc !== this.#crc)
      throw new Error(`${member} fails its CRC32 check: its text is damaged (all of it was read)`);
    if (size !== this.#size)
      throw new Error(`${member} fails its length check: its text is damaged (all of it was read)`);
    this.#members++;
    this.#memberAt = this.#offset;
    this.#phase = 'fixed';
    this.#smallHave = 0;
    this.#headerCrc = 0;
  }

  #notAMember(why: string): Error {
    return new Error(`not a gzip member at byte ${this.#memberAt}: ${why}`);
  }

  #trailingGarbage(): Error {
    const whole = `${this.#members} whole gzip member${this.#members === 1 ? '' : 's'}`;
    return new Error(
      `trailing garbage at byte ${this.#memberAt}: not a gzip member (the ${whole} before it, bytes 0-${this.#memberAt - 1}, were read)`,
    );
  }
}
