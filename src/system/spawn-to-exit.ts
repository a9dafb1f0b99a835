/**
 * Start a program and wait until it exits, every descriptor it gets being one of ours (a file):
 * no pipes, no event loop, nothing to stream. This is what hooks and small forwards need, and it
 * is cheap: Node's spawnSync machinery is one native binding, while node:child_process loads
 * the stream, net and dgram modules first (about 4 ms, more than the rest of a delivery). The
 * binding is the one node:child_process's own spawnSync calls; where a Node.js does not offer
 * it, spawnSync itself does the same job, only slower to load.
 */
import type { SpawnSyncOptions } from 'node:child_process';
import { errnoNumbers } from './errno';

export interface SpawnRequest {
  file: string;
  /** The arguments after argv[0] (which is `file`). */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** The child's descriptors 0, 1, 2, ...: one of ours each, or none. */
  stdio: Array<number | 'ignore'>;
  /** Kill the child's whole process group after this long. */
  timeoutMs?: number;
}

export interface Exited {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  /** The errno that kept the child from starting (ENOENT, EACCES, ...). */
  startErrno?: number;
}

interface RawResult {
  pid?: number;
  status: number | null;
  signal: string | null;
  error?: number | Error;
}

/** The signal's number is the same on every Linux. */
const SIGKILL = 9;

export type RawSpawn = (options: object) => RawResult;

let spawner: RawSpawn | undefined;

function loadSpawner(): RawSpawn {
  if (spawner) return spawner;
  try {
    // process.binding is deprecated in favour of public APIs, but only in words (DEP0111): the
    // warning is printed only under --pending-deprecation, which is then switched off here for
    // this one call, so a delivery's report stays one line.
    const node = process as unknown as { noDeprecation?: boolean; binding(name: string): { spawn?: RawSpawn } };
    const quiet = node.noDeprecation;
    node.noDeprecation = true;
    try {
      const binding = node.binding('spawn_sync');
      if (typeof binding.spawn === 'function') spawner = binding.spawn.bind(binding);
    } finally {
      node.noDeprecation = quiet;
    }
  } catch {
    // No such binding in this Node.js: the public spawnSync below.
  }
  spawner ??= publicSpawnSync;
  return spawner;
}

/** node:child_process's spawnSync, taking the binding's options: the same work, after loading the module. */
export function publicSpawnSync(options: object): RawResult {
  const o = options as { file: string; args: string[]; envPairs: string[]; cwd: string; stdio: Array<{ type: string; fd?: number }>; timeout: number };
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const env = Object.fromEntries(o.envPairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
  // spawnSync takes `detached` as spawn does, though its type does not list it.
  const result = spawnSync(o.file, o.args.slice(1), {
    env,
    cwd: o.cwd,
    stdio: o.stdio.map((s) => (s.type === 'fd' ? (s.fd as number) : 'ignore')),
    detached: true,
    timeout: o.timeout || undefined,
    killSignal: 'SIGKILL',
  } as SpawnSyncOptions);
  return { pid: result.pid, status: result.status, signal: result.signal, error: result.error };
}

/** `spawn` is for tests, which hold both ways to the same results. */
export function spawnToExit(request: SpawnRequest, spawn: RawSpawn = loadSpawner()): Exited {
  const timeout = request.timeoutMs ?? 0;
  const result = spawn({
    file: request.file,
    args: [request.file, ...request.args],
    cwd: request.cwd,
    envPairs: Object.entries(request.env).map(([name, value]) => `${name}=${value}`),
    stdio: request.stdio.map((fd) => (fd === 'ignore' ? { type: 'ignore' } : { type: 'fd', fd })),
    // Its own process group (session), so a timeout kills whatever the child started too.
    detached: true,
    timeout,
    killSignal: SIGKILL,
    maxBuffer: 0,
    windowsHide: false,
    windowsVerbatimArguments: false,
  });
  const errno = typeof result.error === 'number' ? -result.error : (result.error as NodeJS.ErrnoException | undefined)?.errno;
  const timedOut = errno !== undefined && Math.abs(errno) === errnoNumbers().ETIMEDOUT && result.pid !== undefined && result.pid > 0;
  if (timedOut) killGroup(result.pid as number);
  if (errno !== undefined && !timedOut) return { timedOut: false, startErrno: Math.abs(errno) };
  return { exitCode: result.status ?? undefined, signal: result.signal ?? undefined, timedOut };
}

/** The child was killed; what it started may live on in its group (a hook's own children). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* the group is gone already */
  }
}
