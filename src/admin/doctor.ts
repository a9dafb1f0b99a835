import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { byteString, fsPath, printable, toBytes } from '../system/bytes';
import { qmailRoot, readControlMe } from '../delivery/gather';
import { findHooks, type HookName } from '../delivery/hooks';
import { qmailQueuePath } from '../delivery/plan';
import { checkMaildir } from '../maildir/maildir-writer';
import { CONFIG_ITEMS, type ConfigItem, firstLine } from '../vmailmgr/config';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { oldFormatDefaults, PasswordTable, tableKey } from '../vmailmgr/password-table';
import { strtou, UNLIMITED } from '../vmailmgr/uint32';
import { type Check, fail, failure, lstat, octal, ok, readBytes, stat, warn } from './checks';
import { type AdminContext, configProblem } from './context';
import { checkProgramLine } from './program-line';

const searchable = (dir: string): boolean => failure(() => accessSync(fsPath(dir), constants.X_OK)) === undefined;

/** A file's bytes as a byte string, or its error code. */

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

/** The first directory on the way to `path` (from /) that cannot be searched, if any. */
function firstUnsearchable(path: string): string | undefined {
  let prefix = '';
  for (const part of path.split('/').filter(Boolean)) {
    prefix += `/${part}`;
    const st = stat(prefix);
    if (!st) return undefined;
    if (st.isDirectory() && !searchable(prefix)) return prefix;
  }
  return undefined;
}

/**
 * Everything that makes qmail-local or vdeliver defer or bounce for a base user, checked in the
 * order mail meets it: home, .qmail-default, config, password table, Maildirs, qmail-queue, hooks.
 */
export function doctor(ctx: AdminContext, env: Readonly<Record<string, string | undefined>>): Check[] {
  const home = checkHome(ctx);
  // Nothing in a home that cannot be entered can be checked; qmail-local stops there too.
  if (!home.enterable) return home.checks;
  const config = checkConfig(ctx);
  const records = needingConfig(
    'password table',
    () => readTable(ctx),
    (check) => ({ checks: [check], users: [] }),
  );
  return [
    ...home.checks,
    ...checkQmailDefault(ctx),
    ...config.checks,
    ...records.checks,
    ...checkMaildirs(ctx, records.users),
    ...checkStaleTmp(ctx, records.users),
    ...checkPlacement(ctx, records.users),
    ...needingConfig(
      'catch-all',
      () => checkCatchAll(ctx, records.users),
      (check) => [check],
    ),
    ...needingConfig(
      'qmail-queue',
      () => checkQueue(ctx, env, records.users),
      (check) => [check],
    ),
    ...checkHooks(ctx, config.unsearchable),
    ...needingConfig(
      'quotas',
      () => checkQuotas(ctx, records.users),
      (check) => [check],
    ),
  ];
}

/**
 * Limits that nothing enforces: vdeliver enforces them with vdeliver-enforce-quotas, vmailmgr with
 * a predeliver hook that runs vcheckquota. A record with limits and neither is a surprise waiting.
 */
function checkQuotas(ctx: AdminContext, users: User[]): Check[] {
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
    warn(
      `${limited.length} record(s) carry limits that nothing enforces (${names}): neither vdeliver-enforce-quotas nor a vcheckquota predeliver hook`,
      `echo 1 > ${printable(join(ctx.config.localDir, 'vdeliver-enforce-quotas'))}`,
    ),
  ];
}

function checkHome(ctx: AdminContext): { checks: Check[]; enterable: boolean } {
  const home = printable(ctx.home);
  const st = stat(ctx.home);
  if (!st?.isDirectory()) return { checks: [fail(`home directory ${home} does not exist`)], enterable: true };
  if (!searchable(ctx.home))
    return {
      checks: [
        fail(
          `home ${home} cannot be searched (${octal(st.mode)}): qmail-local cannot enter it and defers every delivery; nothing in it can be checked`,
          `chmod u+rx ${home}`,
        ),
      ],
      enterable: false,
    };
  const checks = [
    st.mode & 0o002
      ? fail(`home ${home} is world-writable (${octal(st.mode)}): qmail-local defers every delivery`, `chmod o-w ${home}`)
      : ok(`home ${home} is not writable by others`),
  ];
  checks.push(
    st.mode & 0o1000
      ? fail(`home ${home} is sticky: qmail-local defers ("user is editing his .qmail file")`, `chmod -t ${home} (vrehash leaves it set if interrupted)`)
      : ok('home is not sticky'),
  );
  if (st.uid === 0) checks.push(warn('home is owned by root: qmail never delivers to uid 0', 'chown the home to the base user'));
  return { checks, enterable: true };
}

function checkQmailDefault(ctx: AdminContext): Check[] {
  const file = join(ctx.home, '.qmail-default');
  const path = printable(file);
  const st = stat(file);
  if (!st)
    return [fail(`${path} does not exist: mail for this domain is not handed to vdeliver`, `echo "|$(command -v node) /path/to/dist/vdeliver.cjs" > ${path}`)];
  const checks: Check[] = [];
  const read = readBytes(file);
  if ('code' in read) return [fail(`${path} cannot be read (${read.code}): qmail-local defers every delivery`, `chmod 644 ${path}`)];
  const lines = read.text.split('\n');
  const program = lines.find((l) => l.startsWith('|'));
  if (program && /(^|\/|\s)vdeliver(\.cjs)?(\s|$)/.test(program.slice(1))) checks.push(...checkProgramLine(program.slice(1)));
  else checks.push(fail('.qmail-default does not run vdeliver', 'its line should be |/usr/bin/node /path/to/dist/vdeliver.cjs'));
  if (lines[0] === '') checks.push(fail('.qmail-default starts with a blank line: qmail-local defers', 'remove the blank first line'));
  if (st.mode & 0o022)
    checks.push(
      fail(
        `.qmail-default is group- or world-writable (${octal(st.mode)}): qmail-local refuses a world-writable one, and others could redirect mail`,
        `chmod go-w ${path}`,
      ),
    );
  if (st.mode & 0o100)
    checks.push(fail('.qmail-default has the execute bit: qmail-local treats it as forward-only and defers on the program line', `chmod -x ${path}`));
  if (!checks.some((c) => (c.status === 'fail' && c.what.startsWith('.qmail-default is')) || c.what.startsWith('.qmail-default has the')))
    checks.push(ok(`.qmail-default mode ${octal(st.mode)} is safe`));
  return checks;
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
        fail(
          `config directory ${printable(dir)} cannot be searched: vdeliver cannot look at its items and hooks, so every delivery defers`,
          `chmod a+rx ${printable(dir)}`,
        ),
      );
    } else if (code) {
      checks.push(fail(`config directory ${printable(dir)} cannot be read (${code})`, `chmod a+rx ${printable(dir)}`));
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
  if ('code' in read) return fail(`${path} cannot be read (${read.code}): deliveries that need it defer`, `chmod a+r ${path}`);
  const first = firstLine(read.text);
  if (CONFIG_ITEMS[item].type === 'number' && !strtou(toBytes(first)).digits)
    return fail(`${path}: '${printable(first)}' is not a number: the next directory's value or the default is used`, 'write digits, or - for unlimited');
  if (first === '' && CONFIG_ITEMS[item].type !== 'list' && CONFIG_ITEMS[item].type !== 'text') return warn(`${path} is empty: it does not override anything`);
  return ok(`${path} = ${printable(first)}`);
}

/** A valid record of the table; the key and the record's fields are byte strings (src/system/bytes.ts). */
interface User {
  key: string;
  record: PasswordRecord;
}

function readTable(ctx: AdminContext): { checks: Check[]; users: User[] } {
  let table: PasswordTable;
  try {
    // Opened as delivery opens it, with the old-format records' defaults from the config.
    table = PasswordTable.open(ctx.tablePath, () => oldFormatDefaults(ctx.config), ctx.now);
  } catch (error) {
    return {
      checks: [
        fail(
          `password table ${printable(ctx.tablePath)}: ${(error as Error).message}: every delivery defers`,
          "rebuild it with vdeliver-admin build or vmailmgr's vrehash",
        ),
      ],
      users: [],
    };
  }
  const checks: Check[] = [];
  const users: User[] = [];
  try {
    for (const { key, record } of table.entries()) {
      if (record) users.push({ key, record });
      else checks.push(fail(`record '${printable(key)}' cannot be decoded: its mail defers`, `vdeliver-admin remove ${printable(key)}, then add it again`));
      if (/[A-Z]/.test(key)) checks.push(warn(`key '${printable(key)}' has upper-case letters: it can never be found`, 'keys must be lower-case'));
    }
  } catch (error) {
    if (configProblem(error) !== undefined) throw error; // an old-format record's defaults: needingConfig's business
    checks.push(fail(`password table ${printable(ctx.tablePath)}: ${(error as Error).message}`, 'rebuild it'));
  } finally {
    table.close();
  }
  checks.unshift(ok(`password table ${printable(ctx.tablePath)} holds ${users.length} valid record(s)`));
  // vmailmgr's writers and ours create it exclusively: left over from an interrupted edit, it blocks every edit.
  const lock = stat(`${ctx.tablePath}.tmp`);
  if (lock)
    checks.push(
      warn(
        `${printable(ctx.tablePath)}.tmp exists (since ${lock.mtime.toISOString()}): table edits are blocked`,
        `remove it if no vmailmgr tool or vdeliver-admin is running`,
      ),
    );
  return { checks, users };
}

/** The delivery's own test: would vdeliver take this directory for a Maildir? */
function deliverable(dir: string): boolean {
  try {
    checkMaildir(dir);
    return true;
  } catch {
    return false;
  }
}

function checkMaildirs(ctx: AdminContext, users: User[]): Check[] {
  const owner = stat(ctx.home)?.uid;
  const checks: Check[] = [];
  // A directory on the way that cannot be searched hides every Maildir behind it: one line for it, naming them.
  const blocked = new Map<string, string[]>();
  for (const { key, record } of users.filter((u) => u.record.hasMailbox && u.record.mailboxEnabled)) {
    const dir = resolve(ctx.home, record.directory);
    const [name, shown] = [printable(key), printable(record.directory)];
    const missing = ['tmp', 'new', 'cur'].filter((sub) => !stat(join(dir, sub))?.isDirectory());
    const wall = missing.length ? firstUnsearchable(join(dir, missing[0])) : undefined;
    if (wall) blocked.set(wall, [...(blocked.get(wall) ?? []), name]);
    else if (!deliverable(dir))
      checks.push(
        fail(`${name}: ${shown} is not a Maildir (no ${missing.join(', ')}): mail defers`, `mkdir -p ${missing.map((m) => printable(join(dir, m))).join(' ')}`),
      );
    else if (missing.length)
      checks.push(warn(`${name}: ${shown} has no cur/: mail is delivered, but Maildir readers expect it`, `mkdir -p ${printable(join(dir, 'cur'))}`));
    else if (owner !== undefined && stat(join(dir, 'new'))?.uid !== owner)
      checks.push(fail(`${name}: ${shown}/new is not owned by the base user (uid ${owner}): delivery may fail`, `chown -R ${owner} ${printable(dir)}`));
  }
  for (const [wall, names] of blocked) {
    const listed = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    checks.push(
      fail(
        `${printable(wall)} cannot be searched: ${names.length} Maildir(s) behind it cannot be reached (${listed}), so their mail defers`,
        `chmod u+rx ${printable(wall)}`,
      ),
    );
  }
  if (checks.length === 0) checks.push(ok('every mailbox is a Maildir owned by the base user'));
  return checks;
}

/** djb's Maildir rule: a reader removes a file in tmp/ that has not been touched for 36 hours. */
const STALE_SECONDS = 36 * 3600;

/** Files left in tmp/ by deliveries that died half way (vdeliver itself never leaves one). */
function checkStaleTmp(ctx: AdminContext, users: User[]): Check[] {
  const checks: Check[] = [];
  const before = (ctx.now - STALE_SECONDS) * 1000;
  for (const { key, record } of users.filter((u) => u.record.hasMailbox)) {
    const tmp = join(resolve(ctx.home, record.directory), 'tmp');
    let names: string[] = [];
    // A tmp/ that cannot be listed is checkMaildirs' business.
    if (
      failure(() => {
        names = readdirSync(fsPath(tmp), { encoding: 'latin1' });
      })
    )
      continue;
    const stale = names.filter((name) => {
      const st = lstat(join(tmp, name));
      // Neither written nor read since: atime alone is unreliable under noatime.
      return st?.isFile() && Math.max(st.atimeMs, st.mtimeMs) < before;
    });
    if (stale.length > 0) {
      checks.push(
        warn(
          `${printable(key)}: ${stale.length} file(s) in tmp/ older than 36 hours, left by an interrupted delivery; Maildir readers remove them`,
          `find ${printable(tmp)} -type f -amin +2160 -mmin +2160 -delete`,
        ),
      );
    }
  }
  return checks;
}

/**
 * Where a directory really leads from `home` (both byte strings), walked one component at a time
 * as the kernel does: a symlink is followed where it stands, so `link/..` is the parent of the
 * link's target, not the directory holding the link. Components that do not exist (or cannot be
 * reached) are taken as written. Returns the real path and the symlinks passed on the way.
 */
function realTarget(home: string, directory: string): { path: string; symlinks: string[] } {
  let current = isAbsolute(directory) ? '/' : home;
  const symlinks: string[] = [];
  const parts = directory.split('/').filter((p) => p !== '' && p !== '.');
  for (const [i, part] of parts.entries()) {
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    const st = lstat(next);
    if (!st) return { path: join(next, ...parts.slice(i + 1)), symlinks };
    if (st.isSymbolicLink()) {
      symlinks.push(next);
      const real = realpathBytes(next);
      if (real === undefined) return { path: join(next, ...parts.slice(i + 1)), symlinks };
      current = real;
    } else current = next;
  }
  return { path: current, symlinks };
}

function realpathBytes(path: string): string | undefined {
  let real: Buffer | undefined;
  return failure(() => {
    real = realpathSync(fsPath(path), { encoding: 'buffer' });
  }) || !real
    ? undefined
    : byteString(real);
}

/**
 * Records whose directory leads outside the home (absolute, or `..` climbing out, once symlinks
 * are followed) or passes through a symlink: legitimate sometimes, but mail then lands where
 * vdeliver-admin would refuse to put it, and where the home's backups and permissions do not reach.
 */
function checkPlacement(ctx: AdminContext, users: User[]): Check[] {
  const home = realpathBytes(ctx.home);
  if (home === undefined) return [];
  const checks: Check[] = [];
  for (const { key, record } of users.filter((u) => u.record.directory !== '')) {
    const { path, symlinks } = realTarget(home, record.directory);
    const inside = relative(home, path);
    const outside = inside === '..' || inside.startsWith('../');
    const via = symlinks.length > 0 ? ` through the symlink ${printable(symlinks[0])}` : '';
    const what = `${printable(key)}: directory ${printable(record.directory)}`;
    if (outside)
      checks.push(
        warn(
          `${what} leads outside the home${via}, to ${printable(path)}`,
          `unless that is deliberate, move the Maildir into the home and give the record its place with vdeliver-admin set ${printable(key)} --directory`,
        ),
      );
    else if (via) checks.push(warn(`${what} goes${via}`, 'unless that is deliberate, point the record at the real directory'));
  }
  return checks;
}

function checkCatchAll(ctx: AdminContext, users: User[]): Check[] {
  const raw = ctx.config.string('default-username');
  const name = printable(raw);
  // Looked up as delivery does: the name's bytes, ASCII lower-cased.
  if (users.some((u) => u.key === tableKey(raw))) return [ok(`catch-all '${name}' exists: unknown names go there`)];
  if (ctx.config.source('default-username')) return [ok(`no catch-all: default-username '${name}' names no user, so unknown names bounce`)];
  return [
    warn(
      `no catch-all '${name}': unknown names bounce`,
      `vdeliver-admin add + --no-mailbox --forward postmaster, or set default-username to make "none" explicit`,
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
        fail(
          `qmail-queue ${printable(queue)} is missing or not executable: forwards defer ("qmail-queue exited with an error")`,
          elsewhere
            ? `qmail is installed elsewhere: put its root in ~/.vmailmgr/qmail-root, or link ${elsewhere} to ${printable(queue)}`
            : 'set qmail-root to where qmail lives',
        ),
      );
    }
  }
  if (users.some((u) => u.record.forwards.some((f) => f.endsWith('@')))) {
    const me = readControlMe(root);
    checks.push(
      me
        ? ok(`control/me is '${printable(me)}' (completes forwards ending in @)`)
        : fail(`${printable(join(root, 'control', 'me'))} is missing or empty: forwards ending in @ defer`, 'write the host name into control/me'),
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
      else if (!(st.mode & 0o111)) checks.push(warn(`hook ${printable(path)} has no execute bit: it is silently skipped`, `chmod +x ${printable(path)}`));
      else if (willRun(name, path)) checks.push(ok(`hook ${printable(path)} will run`));
      else checks.push(fail(`hook ${printable(path)} cannot be looked at: mail defers`, `chmod a+rx ${printable(dirname(path))}`));
    }
  }
  return checks;
}

export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.status.padEnd(4)} ${c.what}${c.fix ? ` (fix: ${c.fix})` : ''}\n`).join('');
}
