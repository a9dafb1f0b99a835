import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { byteString, fromText, fsPath, printable, toBytes, toText } from '../system/bytes';
import { adminContext, type AdminContext, AdminError, configError, homeOfUser } from '../admin/context';
import { build } from '../admin/build';
import { doctor, formatChecks, formatJson, parseDoctorArgs } from '../admin/doctor';
import { dump, DUMP_HELP } from '../admin/dump';
import { EDIT_HELP, editCommand, type EditCommand } from '../admin/edit-command';
import { list } from '../admin/list';
import { show } from '../admin/show';
import { parseQuotaArgs, quota, QUOTA_HELP } from '../admin/quota';
import { TEST_HELP } from '../admin/test-command';
import { setup } from '../admin/setup';
import { environmentBytes } from '../system/environment';
import { systemUserById } from '../system/passwd-db';
import { runTest } from './admin-test';
import { passwordSource } from './password-prompt';
import { QMAIL_PATH } from '../admin/program-line';
import { quote } from '../admin/fixes';
import { LOG_HELP, logCommand, parseLogArgs } from '../admin/log';

/** The package's version, put in by the build (scripts/build.mjs). */
declare const VERSION: string;

const USAGE = `usage: vdeliver-admin COMMAND [--home DIR | --user NAME] [options]

commands:
  setup               prepare the base user's home, as vmailmgr's vsetup does
  show NAME...        print virtual users as delivery looks them up
  list                list every record of the password table
  build FILE          write passwd.cdb from a users file (- for stdin)
  dump                write passwd.cdb as the users file build reads
  add NAME            add a virtual user (and create its Maildir)
  set NAME            change a virtual user
  remove NAME         remove a virtual user (its Maildir stays)
  doctor              check the base user's whole setup, one line per check
  quota [NAME...]     limits, usage and the next delivery's fate per mailbox
  test --to ADDRESS FILE...
                      deliver test messages as qmail-local would, explaining each step
  log                 the delivery log: one line per delivery, --follow, --stats

The table is $HOME/<password-file>.cdb; configuration comes from $HOME/.vmailmgr
over $VDELIVER_CONFIG_DIR (default /etc/vmailmgr). --home DIR replaces $HOME;
--user NAME takes the home of the base user NAME from the password database.
Run a command with --help for its options; --version prints the version.
`;

const HELP: Record<string, string> = {
  show: `usage: vdeliver-admin show [--home DIR | --user NAME] [--json] NAME...

Looks each NAME up exactly as vdeliver would (ASCII lower-casing, then the
catch-all) and prints the decoded record. --json prints one object per line.
Exits 1 if a name is found neither directly nor through the catch-all.
`,
  list: `usage: vdeliver-admin list [--home DIR | --user NAME] [--json]

Lists every record in table order: name, mailbox (Yes, Yes(disabled), No)
and forwards. An invalid record is reported and the listing goes on; the
exit status is then 1.
`,
  build: `usage: vdeliver-admin build [--home DIR | --user NAME] [--force] [--create-maildirs]
                            [--allow-outside-home] FILE

Writes $HOME/<password-file>.cdb atomically from FILE, a tab-separated users
file with the columns
  key password directory forwards has_mailbox mailbox_enabled
  hardquota softquota msgsize msgcount ctime expiry personal
(forwards comma-separated; numbers decimal or - for unlimited/never; flags 1/0).
Records keep the file's order and use vmailmgr's signed-char hash, so
vmailmgr's own tools can read the table. A directory that is absolute or climbs
out of the home with .. is refused unless --allow-outside-home is given, and
every forward must be one address (see vdeliver-admin add --help).

An existing table is replaced only with --force; the old one is then kept as
<table>~ (the backup is switched in one rename: there is always a whole copy).
--create-maildirs then creates the Maildir (tmp, new, cur, mode 0700) of every
user with a mailbox that has none, owned by the base user as the table is.
`,
  dump: DUMP_HELP,
  doctor: `usage: vdeliver-admin doctor [--home DIR | --user NAME] [--json] [--qmail-path PATH]

Checks what makes qmail-local or vdeliver defer or bounce: the home directory,
.qmail-default and its program line as /bin/sh -c runs it (the program, its
options, node on qmail's PATH), the config directories and items, the password
table and every record, the Maildirs and their owner, the catch-all,
qmail-queue and control/me, the hooks, and the delivery log (vdeliver-log) the
base user must be able to append to. Also warns about files left in tmp/ for
more than 36 hours and about directories outside the home or through a
symlink. Run as root, it runs as the home's owner, as qmail-local does, so it
sees what a delivery sees.

Prints ok / warn / fail per check, with a fix (a command that works pasted as
printed, by root or the base user) or a hint. --json prints one object per line
and check: {"status", "what", "fix"?, "hint"?}. --qmail-path is the PATH
qmail gives its children (default ${QMAIL_PATH}).
Exits 1 if any check fails.
`,
  setup: `usage: vdeliver-admin setup [--home DIR | --user NAME]

Prepares the base user's home as vmailmgr's vsetup does, and leaves alone what
is already there, so running it again changes nothing:
  .qmail-default   |<this node> <this package's dist/vdeliver.cjs> (mode 0644);
                   a different one is kept as .qmail-default~
  users/           the config's user-dir (mode 0755)
  passwd.cdb       the postmaster-aliases (mailer-daemon, postmaster, root),
                   each with a Maildir and a forward to postmaster-email
  .vmailmgr/vdeliver-enforce-quotas
                   1, unless an item already sets it
  .vmailmgr/vdeliver-log
                   deliveries.log (the delivery log), unless an item sets it
Run as root, it acts as the owner of the home, so every file is the base user's.
`,
  test: TEST_HELP,
  quota: QUOTA_HELP,
  log: LOG_HELP,
  ...EDIT_HELP,
};

/** Commands that write in the base user's home: run as root, they run as its owner instead. */
const AS_OWNER = new Set(['build', 'add', 'set', 'remove', 'test', 'setup', 'doctor']);
/** quota writes only when it rewrites maildirsize, which the owner's deliveries must then read and replace. */
const runsAsOwner = (parsed: Parsed): boolean => AS_OWNER.has(parsed.command) || (parsed.command === 'quota' && parsed.args.includes('--recalculate'));

/** Hands the exact argument bytes to the copy that runs as the home's owner (runAsOwner). */
const ARGV_VARIABLE = 'VDELIVER_ADMIN_ARGV';

/**
 * The arguments as byte strings (src/system/bytes.ts). Node decodes argv as UTF-8, turning a Latin-1
 * name into U+FFFD that matches no record; Linux keeps the exact bytes in /proc/self/cmdline (or,
 * in the copy runAsOwner starts, in ARGV_VARIABLE). Either is used only when it decodes to exactly
 * process.argv, so it can restore bytes but never change an argument.
 */
function argvBytes(): string[] {
  const text = process.argv.slice(2);
  const handed = process.env[ARGV_VARIABLE];
  delete process.env[ARGV_VARIABLE];
  const agrees = (raw: string[] | undefined): raw is string[] =>
    raw !== undefined && raw.length === text.length && raw.every((arg, i) => toBytes(arg).toString('utf8') === text[i]);
  const fromHanded = handed === undefined ? undefined : splitArgs(Buffer.from(handed, 'hex'));
  if (agrees(fromHanded)) return fromHanded;
  const fromProc = procCmdline()?.slice(-text.length || Infinity);
  if (agrees(fromProc)) return fromProc;
  return text.map(fromText);
}

/** /proc/self/cmdline as byte strings (node, its options, the script, then the arguments), or undefined without /proc. */
function procCmdline(): string[] | undefined {
  try {
    return splitArgs(readFileSync('/proc/self/cmdline'));
  } catch {
    return undefined;
  }
}

/** NUL-terminated arguments as byte strings. */
const splitArgs = (bytes: Buffer): string[] => (bytes.length === 0 ? [] : byteString(bytes).replace(/\0$/, '').split('\0'));

interface Parsed {
  command: string;
  home?: string;
  user?: string;
  json: boolean;
  help: boolean;
  args: string[];
}

/** The options every command shares, from the byte-string arguments; the rest is left to the command. */
function parse(argv: string[]): Parsed {
  const [command = '', ...rest] = argv;
  const parsed: Parsed = { command, json: false, help: false, args: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--json' && command !== 'test') parsed.json = true;
    else if (arg === '--home') {
      if (i + 1 >= rest.length) throw new AdminError('--home needs a directory');
      parsed.home = rest[++i];
    } else if (arg.startsWith('--home=')) parsed.home = arg.slice(7);
    else if (arg === '--user') {
      if (i + 1 >= rest.length) throw new AdminError('--user needs the name of a base user');
      parsed.user = rest[++i];
    } else if (arg.startsWith('--user=')) parsed.user = arg.slice(7);
    else parsed.args.push(arg);
  }
  return parsed;
}

function rejectOptions(parsed: Parsed): void {
  const option = parsed.args.find((a) => a.startsWith('-') && a !== '-' && a !== '--');
  if (option) throw new AdminError(`unknown option ${printable(option)} (see vdeliver-admin ${parsed.command} --help)`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const parsed = parse(argv);
    if (parsed.command === '--version') {
      process.stdout.write(`vdeliver-admin ${VERSION}\n`);
      return 0;
    }
    if (['', '--help', '-h', 'help'].includes(parsed.command)) {
      process.stdout.write(USAGE);
      return parsed.command === '' ? 1 : 0;
    }
    // Own keys only: `in` would take 'constructor' or 'toString' for commands.
    if (!Object.hasOwn(HELP, parsed.command)) throw new AdminError(`unknown command '${printable(parsed.command)}' (see vdeliver-admin --help)`);
    if (parsed.help) {
      process.stdout.write(HELP[parsed.command]);
      return 0;
    }
    // Byte strings, like the arguments: HOME and VDELIVER_CONFIG_DIR name directories by their bytes.
    const env = environmentBytes(process.env, '/proc/self/environ');
    if (parsed.home !== undefined && parsed.user !== undefined) throw new AdminError('give --home or --user, not both');
    const home = parsed.user === undefined ? (parsed.home ?? env.HOME) : homeOfUser(parsed.user);
    const ctx = adminContext(home, env, Math.floor(Date.now() / 1000));
    const doctorArgs = parsed.command === 'doctor' ? parseDoctorArgs(parsed.args) : undefined;
    const owner = runsAsOwner(parsed) ? homeOwner(ctx) : undefined;
    if (owner) return await runAsOwner(owner, argv);
    if (parsed.command === 'test') return await runTest(ctx, parsed.args, env);
    if (parsed.command === 'log') {
      const output = { out: (text: string) => void process.stdout.write(text), err: (text: string) => void process.stderr.write(text) };
      return await logCommand(ctx, parseLogArgs(parsed.args, Date.now()), parsed.json, output);
    }
    if (doctorArgs) {
      const checks = doctor(ctx, env, { ...doctorArgs, node: process.execPath, script: join(__dirname, 'vdeliver.cjs'), admin: adminCommand() });
      process.stdout.write(parsed.json ? formatJson(checks) : formatChecks(checks));
      return checks.some((c) => c.status === 'fail') ? 1 : 0;
    }
    const stdin = (): string => byteString(readFileSync(0));
    if (parsed.command === 'show' || parsed.command === 'list') rejectOptions(parsed);
    const result: { out: string; errors: string[]; notes?: string[]; bytes?: true } =
      parsed.command === 'dump'
        ? dump(ctx, parsed.args)
        : parsed.command === 'show'
          ? show(ctx, parsed.args, parsed.json)
          : parsed.command === 'list'
            ? list(ctx, parsed.json)
            : parsed.command === 'build'
              ? build(ctx, parsed.args, stdin)
              : parsed.command === 'setup'
                ? setup(ctx, parsed.args, programLine())
                : parsed.command === 'quota'
                  ? quota(ctx, { ...parseQuotaArgs(parsed.args), json: parsed.json })
                  : editCommand(parsed.command as EditCommand, parsed.args, ctx, await passwordSource(parsed.command as EditCommand, parsed.args, stdin));
    // dump's output is data for build: its bytes as they are, not printable() text.
    process.stdout.write(result.bytes ? toBytes(result.out) : result.out);
    for (const note of result.notes ?? []) process.stderr.write(`vdeliver-admin: note: ${note}\n`);
    for (const error of result.errors) process.stderr.write(`vdeliver-admin: ${error}\n`);
    return result.errors.length > 0 ? 1 : 0;
  } catch (caught) {
    const error = configError(caught);
    if (error instanceof AdminError) {
      process.stderr.write(`vdeliver-admin: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`vdeliver-admin: internal error: ${firstLineOf(error)}\n`);
    return 2;
  }
}

/** The home's owner, when we are root and it is someone else (qmail never delivers as root). */
function homeOwner(ctx: AdminContext): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const stat = statSync(fsPath(ctx.home), { throwIfNoEntry: false });
  return stat && stat.uid !== 0 ? { uid: stat.uid, gid: stat.gid } : undefined;
}

/**
 * Run this same command again as the home's owner, so every file it writes belongs to the base user.
 * Node passes arguments to a child as UTF-8 text, so their exact bytes go along in ARGV_VARIABLE.
 */
async function runAsOwner(owner: { uid: number; gid: number }, argv: string[]): Promise<number> {
  const env = { ...process.env, ...ownerNames(owner.uid), [ARGV_VARIABLE]: toBytes(argv.map((arg) => `${arg}\0`).join('')).toString('hex') };
  // Loaded only here: execa is bundled into this file alone (scripts/build.mjs).
  const { firstUnreachable, runAsUser } = require('../system/as-user') as typeof import('../system/as-user');
  const unreachable = await firstUnreachable(owner, process.execPath, [process.argv[1], __filename]);
  if (unreachable)
    throw new AdminError(
      `the base user (uid ${owner.uid}) cannot run ${unreachable}: install vdeliver where it can (qmail-local runs vdeliver as that user too)`,
    );
  const result = await runAsUser(process.execPath, process.argv.slice(1), owner, env);
  if (result.error) throw new AdminError(`cannot run as uid ${owner.uid}: ${result.error}`);
  return result.status;
}

/**
 * USER and LOGNAME for the copy that runs as the owner: the owner's name, as qmail-local sets USER for
 * the base user (test's deliveries and their hooks see it), not root's; left out when the uid has no name.
 */
function ownerNames(uid: number): { USER?: string; LOGNAME?: string } {
  let name: string | undefined;
  try {
    const user = systemUserById(uid);
    name = user && toText(user.name);
  } catch {
    // No password database to ask: the name stays unknown.
  }
  return { USER: name, LOGNAME: name };
}

/**
 * What `.qmail-default` runs: this node and this package's loader by absolute paths (no PATH lookup,
 * no shim), quoted for qmail-local's /bin/sh when a path needs it. This file is dist/vdeliver-admin.cjs.
 */
function programLine(): string {
  const quote = (path: string): string => (/^[\w./:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`);
  return fromText(`${quote(process.execPath)} ${quote(join(__dirname, 'vdeliver.cjs'))}`);
}

/** How a fix names this program: plain vdeliver-admin when PATH finds this very one, else its path as a shell word. */
function adminCommand(): string {
  const self = process.argv[1];
  const real = (path: string): string | undefined => {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  };
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  if (dirs.some((dir) => real(join(dir, 'vdeliver-admin')) === real(self))) return 'vdeliver-admin';
  // Words for /bin/sh: the fix is pasted into a shell, and an install path may hold a space or a quote.
  const word = (path: string): string => quote(fromText(path));
  try {
    accessSync(self, constants.X_OK);
    return word(self);
  } catch {
    return `${word(process.execPath)} ${word(self)}`;
  }
}

const firstLineOf = (error: unknown): string => String(error instanceof Error ? error.message : error).split('\n')[0];

// A reader that goes away (`vdeliver-admin log | head`) ends the command as SIGPIPE ends other programs:
// quietly, with the status a shell reports for that (128 + 13), instead of Node's stack trace or,
// with --follow, polling on for nobody.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') process.stderr.write(`vdeliver-admin: cannot write the output: ${error.code ?? firstLineOf(error)}\n`);
  process.exit(error.code === 'EPIPE' ? 141 : 1);
});

main(argvBytes()).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`vdeliver-admin: internal error: ${firstLineOf(error)}\n`);
    process.exitCode = 2;
  },
);
