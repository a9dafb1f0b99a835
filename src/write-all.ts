import { writeSync } from 'node:fs';

/** write(2) until every byte is written (a short write is not an error), optionally at a position. */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  for (let done = 0; done < bytes.length;) {
    done += writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done);
  }
}
