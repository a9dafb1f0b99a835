import { accessSync, constants, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsPath, printable, toBytes } from '../system/bytes';
import { qmailRoot, readControlMe } from '../delivery/gather';
import { findHooks, type HookName } from '../delivery/hooks';
import { qmailQueuePath } from '../delivery/plan';
import { CdbError } from '../cdb/cdb-reader';
import { CONFIG_ITEMS, type ConfigItem, firstLine } from '../vmailmgr/config';
import { oldFormatDefaults, PasswordTable, tableKey } from '../vmailmgr/password-table';
import { strtou, UNLIMITED } from '../vmailmgr/uint32';
import { type Check, fail, failure, octal, ok, readBytes, stat, warn } from './checks';
import { type AdminContext, AdminError, configProblem } from './context';
import { checkMaildirs, checkStaleTmp, searchable, type User } from './doctor-maildirs';
import { checkPlacement } from './doctor-placement';
import { type BaseUser, chown, quote, writeItem } from './fixes';
import { checkQmailDefault, QMAIL_PATH } from './program-line';
import { checkLog } from './doctor-log';

/** What doctor is told besides the home: qmail's PATH, and this installation's programs for its fixes. */
export interface DoctorOptions {
  /** The PATH qmail-local's children get (--qmail-path). */
  qmailPath: string;
  /** The node running us and dist/vdeliver.cjs beside us: the direct program line. */
  node: string;
  script: string;
  /** How to run vdeliver-admin in a fix: its name when PATH finds this one, else its path. */
  admin: string;
}

/** doctor's own options (--home and --json are every command's): anything else is an error. */
export function parseDoctorArgs(args: string[]): { qmailPath: string } {
  let qmailPath = QMAIL_PATH;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--qmail-path' && i + 1 < args.length) qmailPath = args[++i];
    else if (arg.startsWith('--qmail-path=')) qmailPath = arg.slice('--qmail-path='.length);
    else if (arg === '--qmail-path') throw new AdminError('--qmail-path needs a PATH (a colon-separated list of directories)');
    else throw new AdminError(`${arg.startsWith('-') ? 'unknown option' : 'unexpected argument'} ${printable(arg)} (see vdeliver-admin doctor --help)`);
  }
  return { qmailPath };
}

/**
 * A section that needs a config item vdeliver cannot read (the config then throws the delivery's
 * deferral): checkConfig has reported the item, so the section says only what it could not check.
 */
function needingConfig<T>(what: string, section: () => T, instead: (check: Check) => T): T {
  try {
    return section();
  } catch (error) {
    const problem = configProblem(error);
    if (problem === undefined) throw error;
    return instead(warn(`${what} not checked: ${problem}`));
  }
}

const orCheck = (what: string, section: () => Check[]): Check[] => needingConfig(what, section, (check) => [check]);

/**
 * Everything that makes qmail-local or vdeliver defer or bounce for a base user, checked in the
 * order mail meets it: home, .qmail-default, config, password table, Maildirs, qmail-queue, hooks.
 * Run as root, vdeliver-admin runs this as the home's owner (src/cli/admin.ts): every access it
 * tries is the base user's, as in a real delivery.
 */
export function doctor(ctx: AdminContext, env: Readonly<Record<string, string | undefined>>, options: DoctorOptions): Check[] {
  const home = checkHome(ctx);
  // Nothing in a home that cannot be entered can be checked; qmail-local stops there too.
  if (!home.user) return home.checks;
  const user = home.user;
  const config = checkConfig(ctx);
  const records = needingConfig(
    'password table',
    () => readTable(ctx, user),
    (check) => ({ checks: [check], users: [], opened: false }),
  );
  const direct = `${options.node} ${options.script}`;
  return [
    ...home.checks,
    ...checkQmailDefault(join(ctx.home, '.qmail-default'), user, { home: ctx.home, qmailPath: options.qmailPath, direct }),
    ...config.checks,
    ...records.checks,
    ...checkMaildirs(ctx.home, user, records.users),
    ...checkStaleTmp(ctx.home, ctx.now, records.users),
    ...checkPlacement(ctx.home, records.users),
    // Without a table there is nothing to say about a catch-all: the table's failure is the finding.
    ...(records.opened ? orCheck('catch-all', () => checkCatchAll(ctx, records.users, options.admin)) : []),
    ...orCheck('qmail-queue', () => checkQueue(ctx, env, records.users)),
    ...checkHooks(ctx, config.unsearchable),
    ...orCheck('quotas', () => checkQuotas(ctx, user, records.users)),
    ...orCheck('delivery log', () => checkLog(ctx, user)),
  ];
}

/**
 * Limits that nothing enforces: vdeliver enforces them with vdeliver-enforce-quotas, vmailmgr with
 * a predeliver hook that runs vcheckquota. A record with limits and neither is a surprise waiting.
 */
function checkQuotas(ctx: AdminContext, user: BaseUser, users: User[]): Check[] {
  const limited = users.filter(({ record: r }) => [r.hardquota, r.softquota, r.msgsize, r.msgcount].some((n) => n !== UNLIMITED));
  if (limited.length === 0) return [];
  if (ctx.config.number('vdeliver-enforce-quotas') === 1) return [ok(`quotas are enforced for ${limited.length} record(s) with limits`)];
  const vcheckquota = findHooks('vdeliver-predeliver', ctx.config).find((path) => {
    const read = readBytes(path);
    return 'text' in read && read.text.includes('vcheckquota');
  });
  if (vcheckquota) return [ok(`${limited.length} record(s) with limits: ${printable(vcheckquota)} runs vcheckquota`)];
  const names =
    limited
      .slice(0, 5)
      .map((u) => printable(u.key))
      .join(', ') + (limited.length > 5 ? ', ...' : '');
  return [
    warn(`${limited.length} record(s) carry limits that nothing enforces (${names}): neither vdeliver-enforce-quotas nor a vcheckquota predeliver hook`, {
      fix: writeItem(user, ctx.home, join(ctx.config.localDir, 'vdeliver-enforce-quotas'), '1'),
    }),
  ];
}

/** The home as qmail-local meets it; `user` (its owner, the base user) once it can be entered. */
function checkHome(ctx: AdminContext): { checks: Check[]; user?: BaseUser } {
  const home = printable(ctx.home);
  const st = stat(ctx.home);
  if (!st?.isDirectory())
    return {
      checks: [
        fail(`home directory ${home} does not exist${st ? ' (not a directory)' : ''}: qmail-local defers every delivery; nothing in it can be checked`, {
          hint: "give the base user's home with --home or --user, or create it owned by the base user",
        }),
      ],
    };
  if (!searchable(ctx.home))
    return {
      checks: [
        fail(`home ${home} cannot be searched (${octal(st.mode)}): qmail-local cannot enter it and defers every delivery; nothing in it can be checked`, {
          fix: `chmod u+rx ${quote(ctx.home)}`,
        }),
      ],
    };
  const checks = [
    st.mode & 0o002
      ? fail(`home ${home} is world-writable (${octal(st.mode)}): qmail-local defers every delivery`, { fix: `chmod o-w ${quote(ctx.home)}` })
      : ok(`home ${home} is not writable by others`),
  ];
  checks.push(
    st.mode & 0o1000
      ? fail(`home ${home} is sticky: qmail-local defers ("user is editing his .qmail file"; vrehash leaves it set if interrupted)`, {
          fix: `chmod -t ${quote(ctx.home)}`,
        })
      : ok('home is not sticky'),
  );
  if (st.uid === 0) checks.push(warn('home is owned by root: qmail never delivers to uid 0', { hint: 'chown the home to the base user' }));
  return { checks, user: { uid: st.uid, gid: st.gid } };
}

/** The config directories and their items; `unsearchable` are the directories whose hooks cannot be looked at. */
function checkConfig(ctx: AdminContext): { checks: Check[]; unsearchable: Set<string> } {
  const checks: Check[] = [];
  const unsearchable = new Set<string>();
  for (const dir of ctx.config.directories) {
    let names: string[] = [];
    const code = failure(() => {
      names = readdirSync(fsPath(dir), { encoding: 'latin1' });
    });
    if (code === 'ENOENT') {
      checks.push(ok(`config directory ${printable(dir)} is absent (defaults apply)`));
    } else if (stat(dir)?.isDirectory() && !searchable(dir)) {
      // Listable but not searchable: none of its items or hooks can be opened, and vdeliver does not guess.
      unsearchable.add(dir);
      checks.push(
        fail(`config directory ${printable(dir)} cannot be searched: vdeliver cannot look at its items and hooks, so every delivery defers`, {
          fix: `chmod a+rx ${quote(dir)}`,
        }),
      );
    } else if (code) {
      checks.push(fail(`config directory ${printable(dir)} cannot be read (${code})`, { fix: `chmod a+rx ${quote(dir)}` }));
    } else {
      for (const name of names.filter((n): n is ConfigItem => Object.hasOwn(CONFIG_ITEMS, n))) checks.push(checkItem(join(dir, name), name));
      checks.push(ok(`config directory ${printable(dir)} is readable`));
    }
  }
  return { checks, unsearchable };
}

function checkItem(file: string, item: ConfigItem): Check {
  const path = printable(file);
  const read = readBytes(file);
  // vdeliver does not guess a value it cannot read: every delivery that needs the item defers.
  if ('code' in read) return fail(`${path} cannot be read (${read.code}): deliveries that need it defer`, { fix: `chmod a+r ${quote(file)}` });
  const first = firstLine(read.text);
  if (CONFIG_ITEMS[item].type === 'number' && !strtou(toBytes(first)).digits)
    return fail(`${path}: '${printable(first)}' is not a number: the next directory's value or the default is used`, {
      hint: 'write digits, or - for unlimited',
    });
  if (first === '' && CONFIG_ITEMS[item].type !== 'list' && CONFIG_ITEMS[item].type !== 'text') return warn(`${path} is empty: it does not override anything`);
  return ok(`${path} = ${printable(first)}`);
}

/** The fix for a table vdeliver cannot use: the base user's to read, else rebuilt. */
function tableRemedy(ctx: AdminContext, user: BaseUser, error: unknown): { fix: string } | { hint: string } {
  const st = stat(ctx.tablePath);
  if (error instanceof CdbError && error.kind === 'unreadable' && st?.isFile())
    return { fix: st.uid === user.uid ? `chmod u+r ${quote(ctx.tablePath)}` : chown(user, ctx.tablePath) };
  return { hint: "rebuild it with vdeliver-admin build or vmailmgr's vrehash" };
}

function readTable(ctx: AdminContext, user: BaseUser): { checks: Check[]; users: User[]; opened: boolean } {
  let table: PasswordTable;
  try {
    // Opened as delivery opens it, with the old-format records' defaults from the config.
    table = PasswordTable.open(ctx.tablePath, () => oldFormatDefaults(ctx.config), ctx.now);
  } catch (error) {
    return {
      checks: [fail(`password table ${printable(ctx.tablePath)}: ${(error as Error).message}: every delivery defers`, tableRemedy(ctx, user, error))],
      users: [],
      opened: false,
    };
  }
  const checks: Check[] = [];
  const users: User[] = [];
  try {
    for (const { key, record } of table.entries()) {
      if (record) users.push({ key, record });
      else
        checks.push(
          fail(`record '${printable(key)}' cannot be decoded: its mail defers`, {
            hint: `remove it with vdeliver-admin remove ${printable(key)}, then add it again`,
          }),
        );
      if (/[A-Z]/.test(key)) checks.push(warn(`key '${printable(key)}' has upper-case letters: it can never be found`, { hint: 'keys must be lower-case' }));
    }
  } catch (error) {
    if (configProblem(error) !== undefined) throw error; // an old-format record's defaults: needingConfig's business
    checks.push(fail(`password table ${printable(ctx.tablePath)}: ${(error as Error).message}`, { hint: 'rebuild it' }));
  } finally {
    table.close();
  }
  checks.unshift(ok(`password table ${printable(ctx.tablePath)} holds ${users.length} valid record(s)`));
  // vmailmgr's writers and ours create it exclusively: left over from an interrupted edit, it blocks every edit.
  const lock = stat(`${ctx.tablePath}.tmp`);
  if (lock)
    checks.push(
      warn(`${printable(ctx.tablePath)}.tmp exists (since ${lock.mtime.toISOString()}): table edits are blocked`, {
        hint: 'remove it if no vmailmgr tool or vdeliver-admin is running',
      }),
    );
  return { checks, users, opened: true };
}

/**
 * The catch-all's fix forwards to a user the table has (postmaster first, else the first mailbox):
 * a forward to a name without @ goes to that virtual user, and one that does not exist would bounce.
 */
function checkCatchAll(ctx: AdminContext, users: User[], admin: string): Check[] {
  const raw = ctx.config.string('default-username');
  const name = printable(raw);
  // Looked up as delivery does: the name's bytes, ASCII lower-cased.
  if (users.some((u) => u.key === tableKey(raw))) return [ok(`catch-all '${name}' exists: unknown names go there`)];
  if (ctx.config.source('default-username')) return [ok(`no catch-all: default-username '${name}' names no user, so unknown names bounce`)];
  const mailboxes = users.filter((u) => u.record.hasMailbox && u.record.mailboxEnabled);
  const target = mailboxes.find((u) => u.key === 'postmaster') ?? mailboxes[0];
  const explicit = 'or, to keep bouncing them, name no user in the default-username item';
  return [
    warn(
      `no catch-all '${name}': unknown names bounce`,
      target
        ? { fix: `${admin} add --home ${quote(ctx.home)} ${quote(tableKey(raw))} --no-mailbox --forward ${quote(target.key)}` }
        : { hint: `add a user named '${name}' to take them, ${explicit}` },
    ),
  ];
}

function checkQueue(ctx: AdminContext, env: Readonly<Record<string, string | undefined>>, users: User[]): Check[] {
  // Found exactly as a delivery finds them.
  const root = qmailRoot(ctx.home, ctx.config);
  const queue = qmailQueuePath(env.QMAILQUEUE, root);
  const checks: Check[] = [];
  if (users.some((u) => u.record.forwards.length > 0)) {
    if (failure(() => accessSync(fsPath(queue), constants.X_OK)) === undefined) {
      checks.push(ok(`qmail-queue ${printable(queue)} is executable`));
    } else {
      const elsewhere = ['/usr/sbin/qmail-queue', '/usr/bin/qmail-queue'].find((q) => stat(q));
      checks.push(
        fail(`qmail-queue ${printable(queue)} is missing or not executable: forwards defer ("qmail-queue exited with an error")`, {
          hint: elsewhere
            ? `qmail is installed elsewhere: put its root in ~/.vmailmgr/qmail-root, or link ${elsewhere} to ${printable(queue)}`
            : 'set qmail-root to where qmail lives',
        }),
      );
    }
  }
  if (users.some((u) => u.record.forwards.some((f) => f.endsWith('@')))) {
    const me = readControlMe(root);
    checks.push(
      me
        ? ok(`control/me is '${printable(me)}' (completes forwards ending in @)`)
        : fail(`${printable(join(root, 'control', 'me'))} is missing or empty: forwards ending in @ defer`, { hint: 'write the host name into control/me' }),
    );
  }
  return checks;
}

function checkHooks(ctx: AdminContext, unsearchable: ReadonlySet<string>): Check[] {
  const checks: Check[] = [];
  // The hooks a delivery would run, found by the delivery's own code.
  const willRun = (name: HookName, path: string): boolean => {
    try {
      return findHooks(name, ctx.config).includes(path);
    } catch {
      return false;
    }
  };
  for (const dir of [...ctx.config.directories].reverse().filter((d) => !unsearchable.has(d))) {
    for (const name of ['vdeliver-predeliver', 'vdeliver-postdeliver'] as const) {
      const path = join(dir, name);
      const st = stat(path);
      if (!st) continue;
      if (!st.isFile()) checks.push(fail(`hook ${printable(path)} is not a regular file: it would fail to run and defer mail`));
      else if (!(st.mode & 0o111)) checks.push(warn(`hook ${printable(path)} has no execute bit: it is silently skipped`, { fix: `chmod +x ${quote(path)}` }));
      else if (willRun(name, path)) checks.push(ok(`hook ${printable(path)} will run`));
      else checks.push(fail(`hook ${printable(path)} cannot be looked at: mail defers`, { fix: `chmod a+rx ${quote(dirname(path))}` }));
    }
  }
  return checks;
}

/** One line per check: status, what, then the fix or the hint in parentheses. */
export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.status.padEnd(4)} ${c.what}${c.fix ? ` (fix: ${c.fix})` : c.hint ? ` (hint: ${c.hint})` : ''}\n`).join('');
}

/** --json: one object per line and check, {"status", "what", "fix"?, "hint"?}, like show --json. */
export const formatJson = (checks: Check[]): string => checks.map((c) => `${JSON.stringify(c)}\n`).join('');
