import { resolve } from 'node:path';
import { printable, toText } from '../system/bytes';
import { md5Crypt, newSalt } from '../vmailmgr/md5-crypt';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { UNLIMITED } from '../vmailmgr/uint32';
import { type AdminContext, AdminError } from './context';
import {
  addRecord,
  ALLOW_OUTSIDE_HOME,
  checkDirectory,
  checkForwards,
  checkName,
  decodeAt,
  editTable,
  findRecord,
  type NewRecord,
  removeRecords,
  replaceRecord,
  shownKey,
  strictNumber,
} from './edit';
import type { EditCommand } from './edit-help';
import { createMaildir } from './maildir-create';

export type { EditCommand };
export { EDIT_HELP } from './edit-help';
type Result = { out: string; errors: string[] };

const LIMITS = ['hardquota', 'softquota', 'msgsize', 'msgcount'] as const;

/** What the options ask for; absent means "default" (add) or "unchanged" (set). */
interface Options {
  passwordHash?: string;
  /** Ask for the password: a hidden prompt on a terminal, else the first line of standard input. */
  passwordAsked?: string;
  directory?: string;
  hasMailbox?: boolean;
  mailboxEnabled?: boolean;
  forwards: string[];
  removeForwards: string[];
  clearForwards?: boolean;
  personal?: string;
  limits: Partial<Record<(typeof LIMITS)[number], number>>;
  /** Seconds from now, or UNLIMITED for never. */
  expiry?: number;
  allowOutsideHome?: boolean;
}

type Kind = 'text' | 'number' | 'yes-no' | 'flag';
interface OptionSpec {
  kind: Kind;
  set: (o: Options, value: string) => void;
  commands: EditCommand[];
  slot?: string;
}
const BOTH: EditCommand[] = ['add', 'set'];
const limit = (name: (typeof LIMITS)[number]): OptionSpec => ({
  kind: 'number',
  commands: BOTH,
  set: (o, v) => {
    o.limits[name] = parseNumber(`--${name}`, v);
  },
});

const asked = (flag: string): OptionSpec => ({
  kind: 'flag',
  commands: BOTH,
  slot: 'password',
  set: (o) => {
    o.passwordAsked = flag;
  },
});

const OPTIONS: Record<string, OptionSpec> = {
  '--password-hash': {
    kind: 'text',
    commands: BOTH,
    slot: 'password',
    set: (o, v) => {
      o.passwordHash = v;
    },
  },
  '--password': asked('--password'),
  '--password-stdin': asked('--password-stdin'),
  '--directory': {
    kind: 'text',
    commands: BOTH,
    set: (o, v) => {
      o.directory = v;
    },
  },
  '--no-mailbox': {
    kind: 'flag',
    commands: BOTH,
    slot: 'has-mailbox',
    set: (o) => {
      o.hasMailbox = false;
    },
  },
  '--has-mailbox': {
    kind: 'yes-no',
    commands: ['set'],
    slot: 'has-mailbox',
    set: (o, v) => {
      o.hasMailbox = v === 'yes';
    },
  },
  '--mailbox-enabled': {
    kind: 'yes-no',
    commands: ['set'],
    set: (o, v) => {
      o.mailboxEnabled = v === 'yes';
    },
  },
  '--forward': {
    kind: 'text',
    commands: BOTH,
    set: (o, v) => {
      o.forwards.push(v);
    },
  },
  '--remove-forward': {
    kind: 'text',
    commands: ['set'],
    set: (o, v) => {
      o.removeForwards.push(v);
    },
  },
  '--clear-forwards': {
    kind: 'flag',
    commands: ['set'],
    set: (o) => {
      o.clearForwards = true;
    },
  },
  '--personal': {
    kind: 'text',
    commands: BOTH,
    set: (o, v) => {
      o.personal = v;
    },
  },
  '--hardquota': limit('hardquota'),
  '--softquota': limit('softquota'),
  '--msgsize': limit('msgsize'),
  '--msgcount': limit('msgcount'),
  '--expiry': {
    kind: 'number',
    commands: BOTH,
    set: (o, v) => {
      o.expiry = parseNumber('--expiry', v);
    },
  },
  [ALLOW_OUTSIDE_HOME]: {
    kind: 'flag',
    commands: BOTH,
    set: (o) => {
      o.allowOutsideHome = true;
    },
  },
};

/**
 * Whether these arguments ask for the password (--password, --password-stdin), checked before the
 * caller (src/cli) prompts for it on a terminal: a bad option or name is reported without a prompt.
 */
export function asksForPassword(command: EditCommand, args: string[]): boolean {
  if (command === 'remove') return false;
  const { name, options } = parseArgs(command, args);
  checkName(name);
  return options.passwordAsked !== undefined;
}

/**
 * `args` and what `readPassword` returns are byte strings (src/system/bytes.ts): every value is
 * stored as its exact bytes. readPassword gives what was typed at the prompt, or standard input;
 * only its first line counts.
 */
export function editCommand(command: EditCommand, args: string[], ctx: AdminContext, readPassword: () => string): Result {
  const { name, options } = parseArgs(command, args);
  checkName(name);
  if (command === 'remove') return remove(ctx, name);
  const flag = options.passwordAsked;
  const password = flag ? md5Crypt(passwordText(flag, readPassword()), newSalt()) : options.passwordHash;
  return command === 'add' ? add(ctx, name, options, password) : set(ctx, name, options, password);
}

function parseArgs(command: EditCommand, args: string[]): { name: string; options: Options } {
  const options: Options = { forwards: [], removeForwards: [], limits: {} };
  const names: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      names.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      names.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = OPTIONS[flag];
    if (!spec || !spec.commands.includes(command)) throw new AdminError(`${command}: unknown option ${printable(flag)} (see vdeliver-admin ${command} --help)`);
    const slot = spec.slot ?? flag;
    if (seen.has(slot) && !REPEATABLE.has(flag)) throw new AdminError(`${command}: ${flag} is given twice or conflicts with another option`);
    seen.add(slot);
    if (spec.kind === 'flag') {
      if (eq > 0) throw new AdminError(`${command}: ${flag} takes no value`);
      spec.set(options, '');
      continue;
    }
    if (eq < 0 && i + 1 >= args.length) throw new AdminError(`${command}: ${flag} needs a value`);
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (spec.kind === 'yes-no' && value !== 'yes' && value !== 'no') throw new AdminError(`${command}: ${flag} must be yes or no, not '${printable(value)}'`);
    if (spec.kind === 'text') checkText(flag, value);
    spec.set(options, value);
  }
  if (names.length !== 1) throw new AdminError(`${command}: name exactly one virtual user (see vdeliver-admin ${command} --help)`);
  return { name: names[0], options };
}

const REPEATABLE = new Set(['--forward', '--remove-forward']);

const parseNumber = (flag: string, text: string): number => strictNumber(text, flag);

/** Fields are NUL-terminated in the record, and one line each in every tool that shows them. */
function checkText(flag: string, value: string): void {
  if (/[\0\n\r]/.test(value)) throw new AdminError(`${flag} cannot contain a NUL byte or a line break`);
  if (value === '' && flag !== '--personal') throw new AdminError(`${flag} cannot be empty`);
}

/** The first line as text for md5Crypt, which hashes a password's UTF-8 bytes: exactly the line's bytes when they are UTF-8. */
function passwordText(flag: string, given: string): string {
  const line = given.split('\n')[0].replace(/\r$/, '');
  if (line === '') throw new AdminError(`${flag}: the first line of standard input is empty`);
  const text = toText(line);
  // Any other text would hash different bytes than the ones given, and the password would never match.
  if (text === undefined)
    throw new AdminError(`${flag}: the password is not valid UTF-8, so it cannot be hashed as given; store its MD5-crypt with --password-hash`);
  return text;
}

/** now + seconds, or never; refuses what would wrap past 2106, where the 32-bit field ends. */
function expiryFrom(ctx: AdminContext, seconds: number): number {
  if (seconds === UNLIMITED) return UNLIMITED;
  if (ctx.now + seconds >= UNLIMITED) throw new AdminError(`an expiry ${seconds} seconds from now does not fit vmailmgr's 32-bit field`);
  return ctx.now + seconds;
}

function add(ctx: AdminContext, name: string, o: Options, password: string | undefined): Result {
  const { config } = ctx;
  const record: NewRecord = {
    password: password ?? '*',
    directory: o.directory ?? `./${config.string('user-dir')}${name.replace(/\./g, ':')}`,
    forwards: o.forwards,
    personal: o.personal ?? '',
    hardquota: o.limits.hardquota ?? config.number('default-hardquota'),
    softquota: o.limits.softquota ?? config.number('default-softquota'),
    msgsize: o.limits.msgsize ?? config.number('default-msgsize'),
    msgcount: o.limits.msgcount ?? config.number('default-msgcount'),
    ctime: ctx.now,
    expiry: expiryFrom(ctx, o.expiry ?? config.number('default-expiry')),
    hasMailbox: o.hasMailbox ?? true,
    mailboxEnabled: true,
  };
  // The default too: user-dir may climb out with `..`.
  checkDirectory(record.directory, o.allowOutsideHome ?? false);
  editTable(ctx, true, (records) => {
    checkForwards(records, record.forwards);
    return { records: addRecord(records, name, record), result: undefined };
  });
  const errors: string[] = [];
  const what = record.hasMailbox
    ? `mailbox ${printable(record.directory)}${maildirNote(ctx, record.directory, errors)}`
    : `no mailbox, ${forwardsNote(record.forwards)}`;
  return { out: `added ${shownKey(name)} (${what}) to ${printable(ctx.tablePath)}\n`, errors };
}

function set(ctx: AdminContext, name: string, o: Options, password: string | undefined): Result {
  const changed = [
    password !== undefined && 'password',
    o.directory !== undefined && 'directory',
    o.hasMailbox !== undefined && 'has-mailbox',
    o.mailboxEnabled !== undefined && 'mailbox-enabled',
    (o.clearForwards || o.forwards.length > 0 || o.removeForwards.length > 0) && 'forwards',
    o.personal !== undefined && 'personal',
    ...LIMITS.map((l) => o.limits[l] !== undefined && l),
    o.expiry !== undefined && 'expiry',
  ].filter((c): c is string => c !== false);
  if (changed.length === 0) throw new AdminError('set: give at least one field to change (see vdeliver-admin set --help)');
  if (o.clearForwards && o.removeForwards.length > 0) throw new AdminError('set: --clear-forwards already drops every forward; leave out --remove-forward');
  // Only a new directory: a record that already points elsewhere can still have its other fields changed.
  if (o.directory !== undefined) checkDirectory(o.directory, o.allowOutsideHome ?? false);
  const { before, after } = editTable(ctx, false, (records) => {
    const index = findRecord(records, name);
    if (index < 0) throw new AdminError(`no virtual user '${shownKey(name)}'`);
    const current = decodeAt(ctx, records, index);
    if (!current) throw new AdminError(`the record for '${shownKey(name)}' cannot be decoded; remove it and add it again`);
    const next = changeRecord(ctx, current, o, password);
    checkForwards(records, o.forwards);
    return { records: replaceRecord(records, name, next), result: { before: current, after: next } };
  });
  const errors: string[] = [];
  const notes = [changed.join(', ')];
  if (before.version !== 2) notes.push(`rewritten from the version-${before.version} format`);
  const newMailbox = after.hasMailbox && after.directory !== '' && (!before.hasMailbox || after.directory !== before.directory);
  if (newMailbox) notes.push(`mailbox ${printable(after.directory)}${maildirNote(ctx, after.directory, errors)}`);
  return { out: `changed ${shownKey(name)} (${notes.join('; ')}) in ${printable(ctx.tablePath)}\n`, errors };
}

function changeRecord(ctx: AdminContext, current: PasswordRecord, o: Options, password: string | undefined): NewRecord {
  const { version: _version, ...next } = current;
  const forwards = withoutForwards(o.clearForwards ? [] : current.forwards, o.removeForwards);
  for (const forward of o.forwards) {
    if (forwards.includes(forward)) throw new AdminError(`the forward '${printable(forward)}' is already there`);
    forwards.push(forward);
  }
  const result: NewRecord = {
    ...next,
    password: password ?? current.password,
    directory: o.directory ?? current.directory,
    forwards,
    personal: o.personal ?? current.personal,
    hardquota: o.limits.hardquota ?? current.hardquota,
    softquota: o.limits.softquota ?? current.softquota,
    msgsize: o.limits.msgsize ?? current.msgsize,
    msgcount: o.limits.msgcount ?? current.msgcount,
    expiry: o.expiry === undefined ? current.expiry : expiryFrom(ctx, o.expiry),
    hasMailbox: o.hasMailbox ?? current.hasMailbox,
    mailboxEnabled: o.mailboxEnabled ?? current.mailboxEnabled,
  };
  if (result.hasMailbox && result.directory === '') throw new AdminError('a mailbox needs a directory: give --directory too');
  return result;
}

/** `forwards` less each of `removed`, which must all be there: removing what is not there is a typo, not a no-op. */
function withoutForwards(forwards: readonly string[], removed: readonly string[]): string[] {
  const left = [...forwards];
  for (const forward of removed) {
    const index = left.indexOf(forward);
    if (index < 0) throw new AdminError(`the forward '${printable(forward)}' is not there to remove (${forwardsNote(left)})`);
    left.splice(index, 1);
  }
  return left;
}

function remove(ctx: AdminContext, name: string): Result {
  const removed = editTable(ctx, false, (records) => {
    const index = findRecord(records, name);
    const record = index >= 0 ? decodeAt(ctx, records, index) : undefined;
    const next = removeRecords(records, name);
    return { records: next, result: { record, count: records.length - next.length } };
  });
  const notes: string[] = [];
  if (!removed.record) notes.push('an invalid record');
  if (removed.count > 1) notes.push(`${removed.count} records with this key`);
  if (removed.record?.directory)
    notes.push(`its ${removed.record.hasMailbox ? 'Maildir' : 'directory'} ${printable(removed.record.directory)} is left in place`);
  return { out: `removed ${shownKey(name)} from ${printable(ctx.tablePath)}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}\n`, errors: [] };
}

const forwardsNote = (forwards: readonly string[]): string => (forwards.length === 0 ? 'no forwards' : `forwards to ${forwards.map(printable).join(', ')}`);

/** Creates the Maildir (maildir-create.ts). A failure is reported, not thrown: the record is in. */
export function maildirNote(ctx: AdminContext, directory: string, errors: string[]): string {
  try {
    return createMaildir(ctx.home, directory) ? '' : ', Maildir already there';
  } catch (error) {
    const path = resolve(ctx.home, directory);
    errors.push(`the table is changed, but the Maildir ${printable(path)} could not be created: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return ', Maildir not created';
  }
}
