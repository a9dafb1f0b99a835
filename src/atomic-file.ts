import { closeSync, fsyncSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { fsPath } from './bytes';
import { writeAll } from './write-all';
import { dirname } from 'node:path';

/**
 * Replace `path` with `chunks` so that readers see either the old file or the complete new one:
 * write a temporary file in the same directory (exclusive create, mode 0600), fsync it,
 * rename it over the target, then fsync the directory so the rename survives a crash.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp${process.pid}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      for (const chunk of chunks) writeAll(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    try { unlinkSync(tmp); } catch { /* already renamed or never written: nothing to clean */ }
    throw error;
  }
  syncDirectory(dirname(path));
}

export function syncDirectory(dir: string): void {
  const fd = openSync(fsPath(dir), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
