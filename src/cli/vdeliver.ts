import { accessSync, constants, fstatSync, writeSync } from 'node:fs';
import { fsPath, toBytes, toText } from '../system/bytes';
import { hostName } from '../system/host-name';
import { DEFAULT_GLOBAL_DIR, GLOBAL_DIR_VARIABLE } from '../vmailmgr/config';
import { deliver } from '../delivery/deliver';
import { errnoText } from '../system/errno';
import { MessageSource } from '../delivery/message-source';
import { defer, exitCode, type Outcome } from '../qmail/outcome';
import { environmentBytes } from '../system/environment';
import { oneLine } from '../qmail/status-line';
import { parseArgs, USAGE } from '../delivery/command-line';

/** The package's version, put in by the build (scripts/build.mjs), so no run reads package.json. */
declare const VERSION: string;

/** What this run prints: notes (warnings), then the outcome's one line. */
interface Printed {
  outcome: Outcome;
  notes: string[];
}

/**
 * The program qmail-local runs for each message. The only module that touches the process:
 * it reads argv, the environment and fd 0, prints the report and sets the exit code.
 * No stream is opened unless a pipe must be spooled: Node's stream modules cost start-up time.
 */
async function main(): Promise<Printed> {
  const env = environmentBytes(process.env, '/proc/self/environ');
  const parsed = parseArgs(process.argv.slice(2));
  if ('error' in parsed) return { outcome: defer(`vdeliver: ${parsed.error} (see vdeliver --help) (#4.3.5)`), notes: [] };
  if (parsed.help || parsed.version) {
    const option = parsed.help ? '--help' : '--version';
    // Under qmail-local, "help" (or "version") from .qmail-default must not count as a delivery
    // (decision 12), and the report gets the one line that says why, not the usage.
    if (env.RECIPIENT !== undefined) return { outcome: defer(`vdeliver: ${option} given in a .qmail file; nothing was delivered (#4.3.5)`), notes: [] };
    if (parsed.help) writeAll(2, Buffer.from(USAGE));
    else writeAll(1, Buffer.from(`vdeliver ${VERSION}\n`));
    return { outcome: { kind: 'delivered' }, notes: [] };
  }
  if (env.HOME) {
    try {
      enterHome(env.HOME);
    } catch (error) {
      return { outcome: defer(`vdeliver: Can't change to home directory ${errnoText(error)} (#4.3.5)`), notes: [] };
    }
  }
  const report = await deliver({
    options: parsed.options,
    env,
    globalDir: env[GLOBAL_DIR_VARIABLE] || DEFAULT_GLOBAL_DIR,
    openMessage: openStdin,
    now: Date.now,
    // The host name is asked for only when a Maildir name is made (a bounce never needs it).
    naming: {
      now: nowWithSubMilliseconds,
      pid: process.pid,
      get hostname() {
        return hostName();
      },
    },
  });
  // --quiet silences vdeliver's own status lines; the exit code still tells qmail everything.
  return parsed.options.quiet ? { outcome: { kind: report.outcome.kind } as Outcome, notes: [] } : report;
}

/** chdir($HOME) as vmailmgr does; a home whose name is not UTF-8 (Node cannot chdir there) must at least be searchable. */
function enterHome(home: string): void {
  const text = toText(home);
  if (text !== undefined) process.chdir(text);
  else accessSync(fsPath(home), constants.X_OK);
}

/**
 * Wall-clock milliseconds plus a sub-millisecond fraction, for the Maildir name's M<usec> field.
 * The wall clock has only milliseconds, so the fraction is the monotonic clock's nanoseconds within
 * its current millisecond: not a true microsecond reading, only spread (the `performance` API would
 * cost start-up time). Names stay unique through the pid, counter and random part anyway.
 */
const nowWithSubMilliseconds = (): number => Date.now() + Number(process.hrtime.bigint() % 1000000n) / 1e6;

/**
 * qmail-local gives a regular file; an admin may pipe or type a message in. Anything else
 * (a directory, /dev/null, a closed fd that Node replaced by /dev/null) is not a message.
 */
async function openStdin(): Promise<MessageSource> {
  const source = MessageSource.fromSeekableFd(0);
  if (source) return source;
  const stat = fstatSync(0);
  // node:tty and process.stdin (the stream modules) are loaded here only: qmail-local never gets this far.
  const { isatty } = require('node:tty') as typeof import('node:tty');
  if (!stat.isFIFO() && !stat.isSocket() && !isatty(0)) throw new Error('standard input is not a file, a pipe or a terminal');
  return MessageSource.spool(process.stdin);
}

let finished = false;

/** The report is a byte string: a user's 8-bit name goes out as its own bytes. */
function print(lines: string[], preface = ''): void {
  const text =
    preface +
    lines
      .map(oneLine)
      .map((line) => `${line}\n`)
      .join('');
  if (text) writeAll(1, toBytes(text));
}

function writeAll(fd: number, bytes: Buffer): void {
  try {
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done);
  } catch {
    // Nobody reads our report (qmail-local gone): the exit code still says everything.
  }
}

/**
 * The admin's own bounce text, as written, before the status line. qmail-lspawn keeps 3000 bytes
 * of a report and the line needs up to 1000, so the text is cut after its last whole line within
 * 1900 bytes; control characters other than tab and newline are dropped.
 */
const PREFACE_MAX = 1900;
function prefaceText(preface: string | undefined): string {
  if (!preface) return '';
  // eslint-disable-next-line no-control-regex
  let text = preface.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  if (text.length > PREFACE_MAX) text = text.slice(0, text.lastIndexOf('\n', PREFACE_MAX) + 1);
  return text && !text.endsWith('\n') ? `${text}\n` : text;
}

function finish(report: Printed): void {
  finished = true;
  const { outcome } = report;
  print(
    [...report.notes, outcome.line].filter((l): l is string => Boolean(l)),
    outcome.kind === 'bounce' ? prefaceText(outcome.preface) : '',
  );
  // exitCode, never process.exit(): a spooling stdin may still be open.
  process.exitCode = exitCode(report.outcome);
}

function crash(error: unknown): void {
  // After the report is out, the outcome stands: a late stray error must not turn a delivery into a retry.
  if (finished) return;
  finished = true;
  const outcome: Outcome = defer(`vdeliver: internal error: ${errnoText(error)} (#4.3.0)`);
  print([outcome.line ?? '']);
  process.exitCode = exitCode(outcome);
}

process.on('uncaughtException', crash);
main().then(finish, crash);
