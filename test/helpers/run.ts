import { execaSync } from 'execa';
import { join } from 'node:path';
import { ROOT } from './fixtures';

export const BIN = join(ROOT, 'bin');

/** An environment with nothing from the test runner in it (no NODE_*, no CA bundles). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** What a finished program left: its exit status (null when killed or never started) and its exact output. */
export interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** execa's result as Finished: output byte for byte (no trailing newline stripped). */
export function finished(result: { exitCode?: number; stdout: unknown; stderr: unknown }): Finished {
  return { status: result.exitCode ?? null, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export function runAdmin(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Finished {
  return finished(
    execaSync(join(BIN, 'vdeliver-admin'), args, {
      env: options.env ?? cleanEnv(),
      extendEnv: false,
      input: options.input,
      reject: false,
      stripFinalNewline: false,
    }),
  );
}
