import { closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomTag } from './random-tag';

/** Large blocks keep big messages fast; small messages get a buffer their own size. */
export const BLOCK_SIZE = 1 << 20;

/**
 * The message, read with positional reads from byte 0 by every consumer (Maildir copy,
 * qmail-queue, each hook), so nobody depends on a shared file offset and nothing is held in memory.
 * qmail-local hands us the queue file itself; a pipe or terminal is spooled once to a temporary file.
 */
export class MessageSource {
  private constructor(readonly fd: number, readonly size: number, private readonly spoolPath?: string) {}

  /** fd 0 when it is a regular file (as under qmail-local), else undefined: the caller must spool it. */
  static fromSeekableFd(fd: number): MessageSource | undefined {
    const stat = fstatSync(fd);
    return stat.isFile() ? new MessageSource(fd, stat.size) : undefined;
  }

  /** Copy a stream (a pipe, a terminal) into a private temporary file and read from that. */
  static async spool(input: Readable, dir: string = tmpdir()): Promise<MessageSource> {
    const path = join(dir, `vdeliver-spool-${process.pid}-${randomTag()}`);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      let size = 0;
      for await (const chunk of input) {
        const bytes = chunk as Buffer;
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, size + done);
        size += bytes.length;
      }
      return new MessageSource(fd, size, path);
    } catch (error) {
      closeSync(fd);
      unlinkSync(path);
      throw error;
    }
  }

  /** Read up to `buffer.length` bytes at `position`; 0 means the end of the message. */
  read(buffer: Buffer, position: number): number {
    return readSync(this.fd, buffer, 0, buffer.length, position);
  }

  /** The whole message as fresh buffers (safe to hand to a stream that keeps them a while). */
  *chunks(): Generator<Buffer> {
    let position = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, Math.max(this.size - position, 4096)));
      const n = this.read(buffer, position);
      if (n === 0) return;
      position += n;
      yield n === buffer.length ? buffer : buffer.subarray(0, n);
    }
  }

  /**
   * A new descriptor on the message at offset 0, for a hook's stdin: each hook reads the whole
   * message from the start, and a real file lets it fstat the size (vcheckquota does).
   */
  openFresh(): number {
    return openSync(this.spoolPath ?? `/proc/self/fd/${this.fd}`, 'r');
  }

  close(): void {
    if (this.spoolPath === undefined) return;
    closeSync(this.fd);
    try { unlinkSync(this.spoolPath); } catch { /* already gone: nothing to clean */ }
  }
}
