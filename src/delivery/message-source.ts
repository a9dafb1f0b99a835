import { closeSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { BLOCK_SIZE, scratchDir, temporaryFile, writeAll } from '../system/files';

/**
 * The message, read with positional reads from byte 0 by every consumer (Maildir copy,
 * qmail-queue, each hook), so nobody depends on a shared file offset and nothing is held in memory.
 * qmail-local hands us the queue file itself; a pipe or terminal is spooled once to a temporary file.
 */
export class MessageSource {
  private constructor(
    readonly fd: number,
    readonly size: number,
    private copyPath?: string,
    private copyFd?: number,
  ) {}

  /** fd 0 when it is a regular file (as under qmail-local), else undefined: the caller must spool it. */
  static fromSeekableFd(fd: number): MessageSource | undefined {
    const stat = fstatSync(fd);
    return stat.isFile() ? new MessageSource(fd, stat.size) : undefined;
  }

  /** Copy a stream (a pipe, a terminal) into a private temporary file and read from that. */
  static async spool(input: Readable, dir: string = scratchDir()): Promise<MessageSource> {
    const { path, fd } = privateFile(dir);
    try {
      let size = 0;
      for await (const chunk of input) {
        writeAll(fd, chunk as Buffer, size);
        size += (chunk as Buffer).length;
      }
      return new MessageSource(fd, size, path, fd);
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

  /**
   * The whole message in blocks, all read into one buffer: a consumer must be done with a block
   * before it asks for the next (qmail-queue's stream waits for each write to reach the kernel),
   * so memory stays at one block whatever the message size.
   */
  *chunks(): Generator<Buffer> {
    const buffer = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, Math.max(this.size, 4096)));
    let position = 0;
    for (;;) {
      const n = this.read(buffer, position);
      if (n === 0) return;
      position += n;
      yield n === buffer.length ? buffer : buffer.subarray(0, n);
    }
  }

  /**
   * A new descriptor on the message at offset 0, for a hook's stdin: each hook reads the whole
   * message from the start, and a real file lets it fstat the size (vcheckquota does). Linux
   * reopens fd 0 through /proc; where that fails (no /proc, a chroot) a private copy is made once.
   */
  openFresh(): number {
    if (this.copyPath === undefined) {
      try {
        return openSync(`/proc/self/fd/${this.fd}`, 'r');
      } catch {
        this.copyToPrivateFile();
      }
    }
    return openSync(this.copyPath as string, 'r');
  }

  /** Remove any private copy. fd 0 itself belongs to qmail-local and stays open. */
  close(): void {
    if (this.copyPath === undefined) return;
    if (this.copyFd !== undefined) closeSync(this.copyFd);
    try {
      unlinkSync(this.copyPath);
    } catch {
      /* already gone: nothing to clean */
    }
  }

  private copyToPrivateFile(): void {
    const { path, fd } = privateFile(scratchDir());
    try {
      let position = 0;
      for (const chunk of this.chunks()) {
        writeAll(fd, chunk, position);
        position += chunk.length;
      }
    } catch (error) {
      closeSync(fd);
      unlinkSync(path);
      throw error;
    }
    this.copyPath = path;
    this.copyFd = fd;
  }
}

const privateFile = (dir: string): { path: string; fd: number } => temporaryFile(dir, 'vdeliver-spool');
