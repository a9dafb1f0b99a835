// File systems mounted for a fault (as root), and unmounted again however the run ends.
import { spawnSync } from 'node:child_process';

const mounted = [];

function mount(args, path) {
  const r = spawnSync('mount', [...args, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')} ${path}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** A tmpfs of `size` (e.g. '64k') on `path`: writing more than that gives a real ENOSPC. */
export function mountTinyTmpfs(path, size) {
  mount(['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs'], path);
  mounted.push(path);
}

/** `path` bound onto itself read-only: creating a file there gives a real EROFS. */
export function bindReadOnly(path) {
  mount(['--bind', path], path);
  mounted.push(path);
  mount(['-o', 'remount,bind,ro'], path);
}

/** Unmount everything mounted here, newest first. */
export function unmountAll() {
  while (mounted.length > 0) spawnSync('umount', [mounted.pop()]);
}
