/** The exit-code tables of qmail's two child protocols: qmail-queue(8), and qmail-command(8) for hooks. */

/**
 * qmail-queue's exit codes, read the way qmail's own qmail.c reads them (qmail_close()):
 * the first character says permanent (D) or temporary (Z), the rest is the text qmail uses.
 */
const TEXT: Record<number, string> = {
  11: 'Denvelope address too long for qq (#5.1.3)',
  115: 'Denvelope address too long for qq (#5.1.3)',
  31: 'Dmail server permanently rejected message (#5.3.0)',
  51: 'Zqq out of memory (#4.3.0)',
  52: 'Zqq timeout (#4.3.0)',
  53: 'Zqq write error or disk full (#4.3.0)',
  54: 'Zqq read error (#4.3.0)',
  55: 'Zqq unable to read configuration (#4.3.0)',
  56: 'Zqq trouble making network connection (#4.3.0)',
  61: 'Zqq trouble in home directory (#4.3.0)',
  62: 'Zqq trouble creating files in queue (#4.3.0)',
  63: 'Zqq trouble creating files in queue (#4.3.0)',
  64: 'Zqq trouble creating files in queue (#4.3.0)',
  65: 'Zqq trouble creating files in queue (#4.3.0)',
  66: 'Zqq trouble creating files in queue (#4.3.0)',
  71: 'Zmail server temporarily rejected message (#4.3.0)',
  72: 'Zconnection to mail server timed out (#4.4.1)',
  73: 'Zconnection to mail server rejected (#4.4.1)',
  74: 'Zcommunication with mail server failed (#4.4.2)',
  81: 'Zqq internal bug (#4.3.0)',
  91: 'Zqq internal bug (#4.3.0)',
  120: 'Zunable to exec qq (#4.3.0)',
};

/**
 * The verdict for one qmail-queue run. `customError` is what a replacement wrote on fd 6 before
 * exiting 82; `writeFailed` is true when we could not hand over the whole message or envelope,
 * which qmail.c treats as a read error even if qmail-queue exited 0.
 */
export function qmailQueueVerdict(exitCode: number | undefined, customError: string, writeFailed: boolean): { permanent: boolean; text: string } | undefined {
  let text: string;
  if (exitCode === undefined) text = 'Zqq crashed (#4.3.0)';
  else if (exitCode === 0) {
    if (!writeFailed) return undefined;
    text = TEXT[54];
  } else if (exitCode === 82 && /^[DZ]./.test(customError)) {
    text = customError.split('\n')[0];
    // A replacement's own text may lack the status code every report line carries.
    if (!/\(#\d\.\d+\.\d+\)$/.test(text)) text += text.startsWith('D') ? ' (#5.3.0)' : ' (#4.3.0)';
  } else text = TEXT[exitCode] ?? (exitCode >= 11 && exitCode <= 40 ? 'Dqq permanent problem (#5.3.0)' : 'Zqq temporary problem (#4.3.0)');
  return { permanent: text.startsWith('D'), text: text.slice(1) };
}

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
