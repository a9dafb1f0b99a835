import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './fixtures';

export const BIN = join(ROOT, 'bin');

/** An environment with nothing from the test runner in it (no NODE_*, no CA bundles). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function runAdmin(args: string[], options: { env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(join(BIN, 'vdeliver-admin'), args, { encoding: 'utf8', env: options.env ?? cleanEnv(), input: options.input });
}
