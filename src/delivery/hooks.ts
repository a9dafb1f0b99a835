import { closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageSource } from './message-source';
import { hookVerdict, type HookVerdict } from '../qmail/exit-codes';
import { fsPath } from '../system/bytes';
import type { Config } from '../vmailmgr/config';
import { errnoText, isErrno } from '../system/errno';
import { failDefer } from '../qmail/outcome';
import { quoteName } from '../qmail/status-line';
import type { RunResult } from '../system/child-command';
import { scratchDir } from '../system/files';
import { runToExit } from '../system/run-to-exit';

export type HookName = 'vdeliver-predeliver' | 'vdeliver-postdeliver';

/**
 * The hooks that would run, in order: the global directory's file, then the local one.
 * Like vmailmgr, a hook is any file (symlinks followed) with at least one execute bit;
 * a file without one is skipped silently. Unlike vmailmgr, a hook that exists but cannot be
 * looked at (EACCES, EIO...) defers: a silently skipped quota or spam filter misroutes mail
 * (decision 13). Only a missing file means "no hook".
 */
export function findHooks(name: HookName, config: Pick<Config, 'directories' | 'mayContain'>): string[] {
  return [...config.directories]
    .reverse()
    .filter((dir) => config.mayContain(dir, name))
    .map((dir) => join(dir, name))
    .filter((path) => {
      try {
        return (statSync(fsPath(path)).mode & 0o111) !== 0;
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
        throw failDefer(`vdeliver: cannot look at the hook ${quoteName(path)}: ${errnoText(error)} (#4.3.5)`, error);
      }
    });
}

export interface HookRun {
  path: string;
  verdict: HookVerdict;
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  startError?: string;
  output?: string;
  /** How long it ran, start to exit (for the delivery log). */
  ms: number;
}

/**
 * Run a chain of hooks: no arguments, cwd $HOME, the given environment, the whole message on
 * stdin from byte 0 for each one, its output passed on to ours when it exits (qmail logs it).
 * The chain stops at the first hook that does not say "continue".
 */
export async function runHooks(
  paths: string[],
  env: Record<string, string>,
  cwd: string,
  message: MessageSource,
  timeoutMs: number | undefined,
  captureOutput = false,
): Promise<HookRun[]> {
  if (paths.length === 0) return [];
  const runs: HookRun[] = [];
  for (const path of paths) {
    const stdin = message.openFresh();
    const started = Date.now();
    let result: RunResult;
    try {
      const options = { stdin, env, cwd, timeoutMs, captureOutput };
      // Through pipes (node:child_process, a file of its own) only when no output file can be made.
      result =
        runToExit(path, { ...options, scratch: scratchDir(env) }) ?? (await (require('../system/exec') as typeof import('../system/exec')).run(path, options));
    } finally {
      closeSync(stdin);
    }
    const verdict = result.timedOut ? 'defer' : hookVerdict(result.exitCode);
    runs.push({
      path,
      verdict,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      startError: result.startError,
      output: result.output,
      ms: Date.now() - started,
    });
    if (verdict !== 'continue') break;
  }
  return runs;
}

/** What a hook that did not say "continue" did, for a status line or a warning. */
export function describeHook(run: HookRun): string {
  const name = quoteName(run.path);
  if (run.timedOut) return `${name} timed out and was killed`;
  if (run.startError) return `${name} could not be run (${run.startError})`;
  if (run.signal) return `${name} was killed by ${run.signal}`;
  return `${name} exited ${run.exitCode}`;
}
