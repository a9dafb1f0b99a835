import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type CdbHash, hasHighBitByte, signedCharHash, standardHash } from './cdb-hash';

/**
 * Why a table could not be used. `missing` and `unreadable` come from open(2);
 * `corrupt` means the bytes do not form a cdb (truncated, garbage, offsets outside the file).
 */
export class CdbError extends Error {
  constructor(
    readonly kind: 'missing' | 'unreadable' | 'corrupt',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CdbError';
  }
}

const HEADER_SIZE = 2048;

export interface CdbRecord {
  key: Buffer;
  data: Buffer;
}

/** A normal lookup probes one to three slots, so the first read of a bucket takes only a few. */
const FIRST_SLOT_BLOCK = 4;
/** A long probe sequence (a full or corrupt bucket) then costs one read per 512 slots (4 KiB). */
const MAX_SLOT_BLOCK = 512;

/**
 * A cdb file answered with positional reads: a lookup costs one read of the header slot,
 * a few reads of hash slots (in blocks that grow from 4 to 512 slots while the probe goes on)
 * and a few per candidate record. The file is never read whole, and every offset is checked
 * against the file size before it is used.
 */
export class CdbReader {
  /** Bytes read from the file so far (lets tests and benchmarks show lookups stay small). */
  bytesRead = 0;
  /** read(2) calls made so far: what a corrupt table costs in syscalls, not only in bytes. */
  reads = 0;
  private readonly scratch = Buffer.alloc(8);
  private readonly slotBlock = Buffer.alloc(MAX_SLOT_BLOCK * 8);
  // DataView reads are about twice as fast as Buffer.readUInt32LE, which counts in a long probe.
  private readonly slotView = new DataView(this.slotBlock.buffer, this.slotBlock.byteOffset, this.slotBlock.length);
  /** While a lookup runs: the bytesRead it may not go past (see find). */
  private readLimit = Infinity;

  private constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** `path` as node:fs takes it: a Buffer keeps a name that is not UTF-8 exact. */
  static open(path: string | Buffer): CdbReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CdbError(code === 'ENOENT' ? 'missing' : 'unreadable', `${path}: ${code ?? String(error)}`, { cause: error });
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new CdbError('unreadable', `${path}: not a regular file`);
      if (stat.size < HEADER_SIZE) throw new CdbError('corrupt', `${path}: ${stat.size} bytes is shorter than a cdb header`);
      // Offsets are 32-bit: anything past 4 GiB cannot be addressed by a valid table.
      return new CdbReader(fd, Math.min(stat.size, 0xffffffff));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The first value for `key`. Keys with bytes >= 0x80 try vmailmgr's signed-char hash first. */
  get(key: Uint8Array): Buffer | undefined {
    return this.getAll(key, 1)[0];
  }

  /** Every value stored under `key`, in file order (up to `limit`). */
  getAll(key: Uint8Array, limit = Infinity): Buffer[] {
    if (!hasHighBitByte(key)) return this.find(key, standardHash, limit);
    const signed = this.find(key, signedCharHash, limit);
    return signed.length > 0 ? signed : this.find(key, standardHash, limit);
  }

  /** Every record in file order, read sequentially from the data section. */
  *records(): Generator<CdbRecord> {
    const end = this.dataEnd();
    let pos = HEADER_SIZE;
    while (pos < end) {
      const [klen, dlen] = this.pair(pos, end);
      const keyEnd = this.checked(pos + 8, klen, end);
      const dataEnd = this.checked(keyEnd, dlen, end);
      yield { key: this.bytes(pos + 8, klen), data: this.bytes(keyEnd, dlen) };
      pos = dataEnd;
    }
  }

  private find(key: Uint8Array, hash: CdbHash, limit: number): Buffer[] {
    const h = hash(key);
    const [tablePos, slots] = this.pair((h & 255) * 8, HEADER_SIZE);
    if (slots === 0) return [];
    if (tablePos < HEADER_SIZE) throw this.corrupt(`hash table at ${tablePos} overlaps the header`);
    // A bucket cannot have more slots than fit in the file.
    this.checked(tablePos, slots * 8, this.size);
    // In a valid table the probed slots and the records they point to are distinct, non-overlapping
    // parts of the file, so one probe sequence never reads more than the file holds. Reading more
    // means slots point at the same bytes again and again (which made getAll quadratic).
    this.readLimit = this.bytesRead + this.size;
    try {
      return this.probe(key, h, tablePos, slots, limit);
    } finally {
      this.readLimit = Infinity;
    }
  }

  /** Linear probing from the key's home slot, reading the slots in growing blocks. */
  private probe(key: Uint8Array, h: number, tablePos: number, slots: number, limit: number): Buffer[] {
    const found: Buffer[] = [];
    let slot = Math.floor(h / 256) % slots;
    let blockSize = FIRST_SLOT_BLOCK;
    let inBlock = 0;
    let at = 0;
    // At most `slots` probes: a table with no empty slot must not loop forever.
    for (let probes = 0; probes < slots && found.length < limit; probes++) {
      if (at === inBlock) {
        // Never past the bucket's end (the probe wraps to slot 0 there), nor past the probes left.
        inBlock = Math.min(blockSize, slots - slot, slots - probes);
        this.readInto(this.slotBlock.subarray(0, inBlock * 8), tablePos + slot * 8);
        blockSize = Math.min(blockSize * 2, MAX_SLOT_BLOCK);
        at = 0;
      }
      const slotHash = this.slotView.getUint32(at * 8, true);
      const recordPos = this.slotView.getUint32(at * 8 + 4, true);
      at++;
      if (recordPos === 0) break;
      if (slotHash === h) {
        const data = this.match(recordPos, key);
        if (data) found.push(data);
      }
      slot = (slot + 1) % slots;
    }
    return found;
  }

  private match(recordPos: number, key: Uint8Array): Buffer | undefined {
    if (recordPos < HEADER_SIZE) throw this.corrupt(`record at ${recordPos} overlaps the header`);
    const [klen, dlen] = this.pair(recordPos, this.size);
    if (klen !== key.length) return undefined;
    const keyEnd = this.checked(recordPos + 8, klen, this.size);
    this.checked(keyEnd, dlen, this.size);
    if (!this.bytes(recordPos + 8, klen).equals(key)) return undefined;
    return this.bytes(keyEnd, dlen);
  }

  /** End of the data section: the lowest hash-table position in the header. */
  private dataEnd(): number {
    const header = this.bytes(0, HEADER_SIZE);
    let end = this.size;
    let anyTable = false;
    for (let i = 0; i < 256; i++) {
      const pos = header.readUInt32LE(i * 8);
      const slots = header.readUInt32LE(i * 8 + 4);
      // A table of zeros is an empty table (vmailmgr reads it as one): empty slots may point anywhere.
      if (slots === 0) continue;
      if (pos < HEADER_SIZE || pos + slots * 8 > this.size) throw this.corrupt(`hash table ${i} at ${pos} is outside the file`);
      end = Math.min(end, pos);
      anyTable = true;
    }
    return anyTable ? end : HEADER_SIZE;
  }

  private pair(pos: number, limit: number): [number, number] {
    this.checked(pos, 8, limit);
    this.readInto(this.scratch, pos);
    return [this.scratch.readUInt32LE(0), this.scratch.readUInt32LE(4)];
  }

  private bytes(pos: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    this.readInto(buf, pos);
    return buf;
  }

  private readInto(buf: Buffer, pos: number): void {
    if (this.bytesRead + buf.length > this.readLimit) throw this.corrupt(`a lookup read more than the ${this.size}-byte file holds`);
    let done = 0;
    while (done < buf.length) {
      let n: number;
      try {
        n = readSync(this.fd, buf, done, buf.length - done, pos + done);
      } catch (error) {
        throw new CdbError('unreadable', `read error at ${pos + done}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
      }
      this.reads++;
      if (n === 0) throw this.corrupt(`unexpected end of file at ${pos + done}`);
      done += n;
    }
    this.bytesRead += done;
  }

  /** `pos + length`, after checking the range lies inside [0, limit]. */
  private checked(pos: number, length: number, limit: number): number {
    const end = pos + length;
    if (end > limit) throw this.corrupt(`${length} bytes at ${pos} run past ${limit === this.size ? 'the end of the file' : 'their section'}`);
    return end;
  }

  private corrupt(what: string): CdbError {
    return new CdbError('corrupt', `corrupt cdb: ${what}`);
  }
}
