import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { fsPath } from '../system/bytes';
import { isErrno } from '../system/errno';

const BLOCK = 64 * 1024;

/** One line of the log file: its number in the file (from 1) and its bytes, without the newline. */
export interface FileLine {
  number: number;
  bytes: Buffer;
}

/**
 * A log file read line by line from the start, one block at a time: memory stays at a block and
 * the longest line, whatever the file's size. A line counts once its newline is there; what follows
 * the last newline waits (a writer may be in the middle of it) until the end is asked for.
 */
export class LineReader {
  private position = 0;
  private number = 0;
  private partial: Buffer[] = [];
  private readonly buffer = Buffer.allocUnsafe(BLOCK);

  private constructor(
    private readonly fd: number,
    readonly dev: number,
    readonly ino: number,
  ) {}

  static open(path: string): LineReader {
    const fd = openSync(fsPath(path), 'r');
    const { dev, ino } = fstatSync(fd);
    return new LineReader(fd, dev, ino);
  }

  /** How far the file has been read. */
  get offset(): number {
    return this.position;
  }

  /** Every complete line written so far. */
  *lines(): Generator<FileLine> {
    for (let n = readSync(this.fd, this.buffer, 0, BLOCK, this.position); n > 0; n = readSync(this.fd, this.buffer, 0, BLOCK, this.position)) {
      this.position += n;
      let start = 0;
      for (let nl = this.buffer.indexOf(10, 0); nl >= 0 && nl < n; nl = this.buffer.indexOf(10, start)) {
        const piece = this.buffer.subarray(start, nl);
        const bytes = this.partial.length > 0 ? Buffer.concat([...this.partial, piece]) : Buffer.from(piece);
        this.partial = [];
        start = nl + 1;
        yield { number: ++this.number, bytes };
      }
      if (start < n) this.partial.push(Buffer.from(this.buffer.subarray(start, n)));
    }
  }

  /** The bytes after the last newline, at the end of the file (a line cut short), if any. */
  rest(): FileLine | undefined {
    if (this.partial.length === 0) return undefined;
    const bytes = Buffer.concat(this.partial);
    this.partial = [];
    return { number: ++this.number, bytes };
  }

  /** Start again from the top (the file was truncated in place: logrotate's copytruncate). */
  rewind(): void {
    this.position = 0;
    this.number = 0;
    this.partial = [];
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** What became of the file at `path` since `reader` opened it. */
export function changeOf(path: string, reader: LineReader): 'same' | 'replaced' | 'truncated' | 'gone' {
  let now;
  try {
    now = statSync(fsPath(path));
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return 'gone';
    throw error;
  }
  if (now.ino !== reader.ino || now.dev !== reader.dev) return 'replaced';
  return now.size < reader.offset ? 'truncated' : 'same';
}

/**
 * Every line of the file, then, forever, each line as it is written: polled every `intervalMs`.
 * A rotation is followed: once the file is renamed away and a new one is made, the old one is read
 * to its end and the new one from its start; a file truncated in place is read again from its start.
 * A file that does not exist yet is waited for.
 */
export async function followLines(path: string, each: (line: FileLine) => void, intervalMs = 250): Promise<never> {
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, intervalMs));
  let reader = openIfThere(path);
  for (;;) {
    if (reader) for (const line of reader.lines()) each(line);
    await pause();
    const change = reader ? changeOf(path, reader) : 'replaced';
    if (change === 'truncated') reader?.rewind();
    if (change !== 'replaced') continue;
    const next = openIfThere(path);
    if (!next) continue;
    if (reader) {
      // Writers that opened the old file before the rename may have added to it since.
      for (const line of reader.lines()) each(line);
      const cut = reader.rest();
      if (cut) each(cut);
      reader.close();
    }
    reader = next;
  }
}

/** The reader, or undefined while there is no file (between a rotation's rename and the first new line). */
export function openIfThere(path: string): LineReader | undefined {
  try {
    return LineReader.open(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}
