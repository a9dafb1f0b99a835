/**
 * How a hook's exit status reads, by qmail-command(8)'s rules, which vmailmgr's hooks follow:
 * 0 go on, 99 accept and stop, 100 and qmail's other hard codes bounce, anything else
 * (including a signal or a failed exec) is temporary.
 */
const HARD = new Set([100, 64, 65, 70, 76, 77, 78, 112]);

export type HookVerdict = 'continue' | 'stop' | 'bounce' | 'defer';

export function hookVerdict(exitCode: number | undefined): HookVerdict {
  if (exitCode === 0) return 'continue';
  if (exitCode === 99) return 'stop';
  if (exitCode !== undefined && HARD.has(exitCode)) return 'bounce';
  return 'defer';
}
