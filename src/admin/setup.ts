import type { ConfigItem } from '../vmailmgr/config';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath, printable } from '../system/bytes';
import { UNLIMITED } from '../vmailmgr/uint32';
import { type AdminContext, AdminError } from './context';
import { addRecord, editTable, findRecord, type NewRecord, readRecords } from './edit';
import { maildirNote } from './edit-command';

/** One thing setup looked at: what it did, or why it left it alone. */
interface Step {
  changed: boolean;
  line: string;
}

/**
 * `setup`: vmailmgr's vsetup for vdeliver (commands/vsetup.cc). It makes `.qmail-default` run
 * `programLine` (an existing different file is kept as `.qmail-default~`), creates the users
 * directory, adds the postmaster aliases, and turns on quota enforcement as the examples do.
 * What is already there is left as it is, so a second run changes nothing.
 */
export function setup(ctx: AdminContext, args: string[], programLine: string): { out: string; errors: string[] } {
  const extra = args.find((a) => a !== '--');
  if (extra !== undefined)
    throw new AdminError(
      extra.startsWith('-') ? `unknown option ${printable(extra)} (see vdeliver-admin setup --help)` : 'setup takes no arguments besides --home or --user',
    );
  const errors: string[] = [];
  const steps = [
    qmailDefault(ctx, programLine),
    usersDirectory(ctx),
    postmasterAliases(ctx, errors),
    configItem(ctx, 'vdeliver-enforce-quotas', '1', "vdeliver enforces the records' quotas", () => String(ctx.config.number('vdeliver-enforce-quotas'))),
    configItem(ctx, 'vdeliver-log', 'deliveries.log', 'one JSON line per delivery, read by vdeliver-admin log', () =>
      printable(ctx.config.string('vdeliver-log')),
    ),
  ];
  const lines = steps.map((s) => `${s.line}\n`);
  if (!steps.some((s) => s.changed)) lines.push(`nothing to change: ${printable(ctx.home)} is already set up\n`);
  return { out: lines.join(''), errors };
}

/** `|program` as one line, mode 0644 as vsetup writes it; replaced through a rename, so qmail-local never reads half a file. */
function qmailDefault(ctx: AdminContext, programLine: string): Step {
  const path = join(ctx.home, '.qmail-default');
  const wanted = `|${programLine}\n`;
  const current = readIfThere(path);
  const shown = printable(path);
  if (current === wanted) return { changed: false, line: `${shown} already runs ${printable(programLine)}` };
  try {
    if (current !== undefined) copyFileSync(fsPath(path), fsPath(`${path}~`));
    const staged = `${path}.new`;
    writeFileSync(fsPath(staged), wanted, { encoding: 'latin1', mode: 0o644 });
    chmodSync(fsPath(staged), 0o644);
    renameSync(fsPath(staged), fsPath(path));
  } catch (error) {
    throw new AdminError(`cannot write ${shown}: ${codeOf(error)}`);
  }
  const kept = current === undefined ? '' : ` (the old one is kept as ${printable(`${path}~`)})`;
  return { changed: true, line: `wrote ${shown}: ${printable(wanted.trimEnd())}${kept}` };
}

/** The config's user-dir (users/), mode 0755 as vsetup makes it. */
function usersDirectory(ctx: AdminContext): Step {
  const path = join(ctx.home, ctx.config.string('user-dir'));
  const shown = printable(path);
  try {
    mkdirSync(fsPath(path), { mode: 0o755 });
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return { changed: false, line: `${shown} is already there` };
    throw new AdminError(`cannot create ${shown}: ${codeOf(error)}`);
  }
  return { changed: true, line: `created ${shown}` };
}

/**
 * vsetup's aliases (postmaster-aliases: mailer-daemon, postmaster, root): each a mailbox under
 * user-dir, without vadduser's `./`, and a forward to postmaster-email (postmaster@, which
 * vdeliver completes from control/me). A name already in the table keeps its record.
 */
function postmasterAliases(ctx: AdminContext, errors: string[]): Step {
  const { config } = ctx;
  const names = config.list('postmaster-aliases');
  const forward = config.string('postmaster-email');
  const existing = readRecords(ctx, true);
  const missing = names.filter((name, i) => findRecord(existing, name) < 0 && names.indexOf(name) === i);
  const table = printable(ctx.tablePath);
  if (missing.length === 0) return { changed: false, line: `${table} already has ${names.map(printable).join(', ') || 'no postmaster aliases to add'}` };
  const record = (name: string): NewRecord => ({
    password: '*',
    directory: `${config.string('user-dir')}${name.replace(/\./g, ':')}`,
    forwards: [forward],
    personal: '',
    hardquota: config.number('default-hardquota'),
    softquota: config.number('default-softquota'),
    msgsize: config.number('default-msgsize'),
    msgcount: config.number('default-msgcount'),
    ctime: ctx.now,
    expiry: config.number('default-expiry') === UNLIMITED ? UNLIMITED : ctx.now + config.number('default-expiry'),
    hasMailbox: true,
    mailboxEnabled: true,
  });
  editTable(ctx, true, (records) => ({ records: missing.reduce((all, name) => addRecord(all, name, record(name)), records), result: undefined }));
  // Maildirs that cannot be made are reported in `errors`; the records are in either way, as with add.
  for (const name of missing) maildirNote(ctx, record(name).directory, errors);
  return { changed: true, line: `added ${missing.map(printable).join(', ')} (mailbox and forward to ${printable(forward)}) to ${table}` };
}

/** One of the examples' settings (quotas enforced, the delivery log), unless an item already says otherwise. */
function configItem(ctx: AdminContext, item: ConfigItem, value: string, meaning: string, current: () => string): Step {
  const source = ctx.config.source(item);
  if (source !== undefined) return { changed: false, line: `${printable(source)} already sets ${item} to ${current()}` };
  const path = join(ctx.config.localDir, item);
  try {
    mkdirSync(fsPath(ctx.config.localDir), { recursive: true, mode: 0o755 });
    writeFileSync(fsPath(path), `${value}\n`, { mode: 0o644 });
  } catch (error) {
    throw new AdminError(`cannot write ${printable(path)}: ${codeOf(error)}`);
  }
  return { changed: true, line: `wrote ${printable(path)}: ${value} (${meaning})` };
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(fsPath(path), 'latin1');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw new AdminError(`cannot read ${printable(path)}: ${codeOf(error)}`);
  }
}

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);
