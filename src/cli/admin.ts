import { readFileSync, statSync } from 'node:fs';
import { byteString, fromText, fsPath, printable, toBytes } from '../system/bytes';
import { adminContext, type AdminContext, AdminError, configError } from '../admin/context';
import { build } from '../admin/build';
import { doctor, formatChecks } from '../admin/doctor';
import { EDIT_HELP, editCommand } from '../admin/edit-command';
import { list } from '../admin/list';
import { show } from '../admin/show';
import { parseQuotaArgs, quota, QUOTA_HELP } from '../admin/quota';
import { formatResult, parseTestArgs, TEST_HELP, testDelivery } from '../admin/test-command';
import { environmentBytes } from '../system/environment';
import { LOG_HELP, logCommand, parseLogArgs } from '../admin/log';

const USAGE = `usage: vdeliver-admin COMMAND [--home DIR] [options]

commands:
  show NAME...        print virtual users as delivery looks them up
  list                list every record of the password table
  build FILE          write passwd.cdb from a users file (- for stdin)
  add NAME            add a virtual user (and create its Maildir)
  set NAME            change a virtual user
  remove NAME         remove a virtual user (its Maildir stays)
  doctor              check the base user's whole setup, one line per check
  quota [NAME...]     limits, usage and the next delivery's fate per mailbox
  test --to ADDRESS FILE...
                      deliver test messages as qmail-local would, explaining each step
  log                 the delivery log: one line per delivery, --follow, --stats

The table is $HOME/<password-file>.cdb; configuration comes from $HOME/.vmailmgr
over $VDELIVER_CONFIG_DIR (default /etc/vmailmgr). --home DIR replaces $HOME.
Run a command with --help for its options.
`;

const HELP: Record<string, string> = {
  show: `usage: vdeliver-admin show [--home DIR] [--json] NAME...

Looks each NAME up exactly as vdeliver would (ASCII lower-casing, then the
catch-all) and prints the decoded record. --json prints one object per line.
Exits 1 if a name is found neither directly nor through the catch-all.
`,
  list: `usage: vdeliver-admin list [--home DIR] [--json]

Lists every record in table order: name, mailbox (Yes, Yes(disabled), No)
and forwards. An invalid record is reported and the listing goes on; the
exit status is then 1.
`,
  build: `usage: vdeliver-admin build [--home DIR] [--allow-outside-home] FILE

Writes $HOME/<password-file>.cdb atomically from FILE, a tab-separated users
file with the columns
  key password directory forwards has_mailbox mailbox_enabled
  hardquota softquota msgsize msgcount ctime expiry personal
(forwards comma-separated; numbers decimal or - for unlimited/never; flags 1/0).
Records keep the file's order and use vmailmgr's signed-char hash, so
vmailmgr's own tools can read the table. A directory that is absolute or climbs
out of the home with .. is refused unless --allow-outside-home is given.
`,
  doctor: `usage: vdeliver-admin doctor [--home DIR]

Checks what makes qmail-local or vdeliver defer or bounce: the home directory's
mode, .qmail-default, the config directories and items, the password table and
every record, the Maildirs and their owner, the catch-all, qmail-queue and
control/me, and the hooks. Also warns about files left in tmp/ for more than
36 hours and about directories outside the home or through a symlink. Prints
ok / warn / fail per check, with the fix. Exits 1 if any check fails.
`,
  test: TEST_HELP,
  quota: QUOTA_HELP,
  log: LOG_HELP,
  ...EDIT_HELP,
};

/** Commands that write in the base user's home: run as root, they run as its owner instead. */
const AS_OWNER = new Set(['build', 'add', 'set', 'remove', 'test']);

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
    const ctx = adminContext(parsed.home ?? env.HOME, env, Math.floor(Date.now() / 1000));
    const owner = AS_OWNER.has(parsed.command) ? homeOwner(ctx) : undefined;
    if (owner) return runAsOwner(owner, argv);
    if (parsed.command === 'test') return await test(ctx, parsed.args, env);
    if (parsed.command === 'log') {
      const output = { out: (text: string) => void process.stdout.write(text), err: (text: string) => void process.stderr.write(text) };
      return await logCommand(ctx, parseLogArgs(parsed.args, Date.now()), parsed.json, output);
    }
    if (parsed.command === 'doctor') {
      rejectOptions(parsed);
      const checks = doctor(ctx, env);
      process.stdout.write(formatChecks(checks));
      return checks.some((c) => c.status === 'fail') ? 1 : 0;
    }
    const stdin = (): string => byteString(readFileSync(0));
    if (parsed.command === 'show' || parsed.command === 'list') rejectOptions(parsed);
    const result =
      parsed.command === 'show'
        ? show(ctx, parsed.args, parsed.json)
        : parsed.command === 'list'
          ? list(ctx, parsed.json)
          : parsed.command === 'build'
            ? build(ctx, parsed.args, stdin)
            : parsed.command === 'quota'
              ? quota(ctx, { ...parseQuotaArgs(parsed.args), json: parsed.json })
              : editCommand(parsed.command as 'add' | 'set' | 'remove', parsed.args, ctx, stdin);
    process.stdout.write(result.out);
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

async function test(ctx: AdminContext, args: string[], env: Readonly<Record<string, string>>): Promise<number> {
  const req = parseTestArgs(args, env);
  const counts = { delivered: 0, bounced: 0, deferred: 0 };
  const progress = process.stderr.isTTY && req.files.length > 1;
  for (const [i, file] of req.files.entries()) {
    if (progress) process.stderr.write(`\r[${i + 1}/${req.files.length}] ${printable(file)}\x1b[K`);
    const result = await testDelivery(ctx, req, file, env, process.pid);
    if (progress) process.stderr.write('\r\x1b[K');
    process.stdout.write(req.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}\n`);
    if (result.exitCode === 0 || result.exitCode === 99) counts.delivered++;
    else if (result.exitCode === 100) counts.bounced++;
    else counts.deferred++;
  }
  if (req.files.length > 1 && !req.json) {
    const verb = req.dryRun ? 'would be ' : '';
    process.stdout.write(
      `${req.files.length} messages: ${counts.delivered} ${verb}delivered, ${counts.bounced} ${verb}bounced, ${counts.deferred} ${verb}deferred\n`,
    );
  }
  return counts.delivered === req.files.length ? 0 : 1;
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
function runAsOwner(owner: { uid: number; gid: number }, argv: string[]): number {
  const env = { ...process.env, [ARGV_VARIABLE]: toBytes(argv.map((arg) => `${arg}\0`).join('')).toString('hex') };
  const { runAsUser } = require('../system/exec') as typeof import('../system/exec');
  const result = runAsUser(process.execPath, process.argv.slice(1), owner, env);
  if (result.error) throw new AdminError(`cannot run as uid ${owner.uid}: ${result.error}`);
  return result.status;
}

const firstLineOf = (error: unknown): string => String(error instanceof Error ? error.message : error).split('\n')[0];

main(argvBytes()).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`vdeliver-admin: internal error: ${firstLineOf(error)}\n`);
    process.exitCode = 2;
  },
);
