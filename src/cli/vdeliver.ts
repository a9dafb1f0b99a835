import { fstatSync } from 'node:fs';
import { hostname } from 'node:os';
import { DEFAULT_GLOBAL_DIR, GLOBAL_DIR_VARIABLE } from '../config';
import { deliver } from '../deliver';
import { MessageSource } from '../message-source';
import { defer, exitCode, type Outcome } from '../outcome';
import { errnoText, oneLine } from '../status-line';
import { parseArgs, USAGE } from './options';
import { needsRawEnvironment, readRawEnvironment } from '../raw-env';

/** Values that reach the Maildir, the envelope or the table key, and so must keep their exact bytes. */
const EXACT_VARIABLES = ['EXT', 'SENDER', 'UFLINE', 'RPLINE', 'DTLINE'] as const;

/** What this run prints: notes (warnings), then the outcome's one line. */
interface Printed { outcome: Outcome; notes: string[] }

/**
 * The program qmail-local runs for each message. The only module that touches the process:
 * it reads argv, the environment and fd 0, prints the report and sets the exit code.
 */
async function main(): Promise<Printed> {
  const env = process.env;
  const parsed = parseArgs(process.argv.slice(2));
  if ('error' in parsed) return { outcome: defer(`vdeliver: ${parsed.error} (see vdeliver --help) (#4.3.5)`), notes: [] };
  if (parsed.help) {
    // Under qmail-local, "help" from .qmail-default must not count as a delivery (decision 12),
    // and the report gets the one line that says why, not the usage.
    if (env.RECIPIENT !== undefined) return { outcome: defer('vdeliver: --help given in a .qmail file; nothing was delivered (#4.3.5)'), notes: [] };
    process.stderr.write(USAGE);
    return { outcome: { kind: 'delivered' }, notes: [] };
  }
  if (env.HOME) {
    try {
      process.chdir(env.HOME);
    } catch (error) {
      return { outcome: defer(`vdeliver: Can't change to home directory ${errnoText(error)} (#4.3.5)`), notes: [] };
    }
  }
  const report = await deliver({
    options: parsed.options,
    env,
    rawEnv: needsRawEnvironment(env, EXACT_VARIABLES) ? readRawEnvironment() : undefined,
    globalDir: env[GLOBAL_DIR_VARIABLE] || DEFAULT_GLOBAL_DIR,
    openMessage: openStdin,
    now: Date.now,
    // The host name is asked for only when a Maildir name is made (a bounce never needs it).
    naming: { now: preciseNow, pid: process.pid, get hostname() { return hostname(); } },
  });
  // --quiet silences vdeliver's own status lines; the exit code still tells qmail everything.
  return parsed.options.quiet ? { outcome: { ...report.outcome, line: undefined } as Outcome, notes: [] } : report;
}

/**
 * Milliseconds with a sub-millisecond part for the Maildir name's M<usec>. The fraction comes from
 * the monotonic clock (the `performance` API costs start-up time); names stay unique through the
 * pid and counter anyway.
 */
const preciseNow = (): number => Date.now() + Number(process.hrtime.bigint() % 1000000n) / 1e6;

/**
 * qmail-local gives a regular file; an admin may pipe or type a message in. Anything else
 * (a directory, /dev/null, a closed fd that Node replaced by /dev/null) is not a message.
 */
async function openStdin(): Promise<MessageSource> {
  const source = MessageSource.fromSeekableFd(0);
  if (source) return source;
  const stat = fstatSync(0);
  // node:tty is loaded here only: qmail-local never gets this far.
  const { isatty } = require('node:tty') as typeof import('node:tty');
  if (!stat.isFIFO() && !stat.isSocket() && !isatty(0)) throw new Error('standard input is not a file, a pipe or a terminal');
  return MessageSource.spool(process.stdin);
}

let finished = false;

function finish(report: Printed): void {
  finished = true;
  const lines = [...report.notes, report.outcome.line].filter((l): l is string => Boolean(l)).map(oneLine);
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  // exitCode, never process.exit(): stdout may be a pipe still being written.
  process.exitCode = exitCode(report.outcome);
}

function crash(error: unknown): void {
  // After the report is out, the outcome stands: a late stray error must not turn a delivery into a retry.
  if (finished) return;
  finished = true;
  const outcome: Outcome = defer(`vdeliver: internal error: ${errnoText(error)} (#4.3.0)`);
  process.stdout.write(`${oneLine(outcome.line ?? '')}\n`);
  process.exitCode = exitCode(outcome);
}

process.on('uncaughtException', crash);
main().then(finish, crash);
