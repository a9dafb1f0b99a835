// Base-user homes for the fault runs, laid out as qmail and vmailmgr lay them out: the basic
// fixture's passwd.cdb (made by vmailmgr's own tools), a Maildir for the users the runs deliver to,
// a qmail root with control/me, an empty global config directory (so /etc/vmailmgr on this machine
// plays no part), a $TMPDIR of its own, and qmail-queue replaced through QMAILQUEUE by the slow double.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SLOW_QUEUE = join(ROOT, 'test', 'doubles', 'qmail-queue-slow');
export const SENDER = 'sender@remote.example';
/** The users of the basic fixture the runs deliver to: alice has a mailbox; bob has one and two forwards. */
const USERS = ['alice', 'bob'];
const SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];
// bin/vdeliver starts with `#!/usr/bin/env node`: the node running this must be on PATH.
const PATH = [...new Set([dirname(process.execPath), ...SYSTEM_PATH])].join(':');

const mkdirs = (path) => {
  mkdirSync(path, { recursive: true });
  return path;
};

/**
 * A home under `dir`. `hook`: the body of $HOME/.vmailmgr/vdeliver-predeliver, if any.
 * `queuePauseMs`: the slow qmail-queue's pause after each 64 KiB block.
 */
export function makeHome(dir, { hook, queuePauseMs = 3 } = {}) {
  const home = mkdirs(join(dir, 'home'));
  const qmailRoot = mkdirs(join(dir, 'qmail'));
  const paths = {
    dir,
    home,
    etc: mkdirs(join(dir, 'etc')),
    tmp: mkdirs(join(dir, 'tmpdir')),
    queue: mkdirs(join(dir, 'queue')),
    message: join(dir, 'message'),
  };
  copyFileSync(join(ROOT, 'fixtures', 'vmailmgr', 'basic', 'passwd.cdb'), join(home, 'passwd.cdb'));
  for (const user of USERS) for (const sub of ['tmp', 'new', 'cur']) mkdirs(join(home, 'users', user, sub));
  mkdirs(join(qmailRoot, 'control'));
  writeFileSync(join(qmailRoot, 'control', 'me'), 'mail.example.net\n');
  mkdirs(join(home, '.vmailmgr'));
  writeFileSync(join(home, '.vmailmgr', 'qmail-root'), `${qmailRoot}\n`);
  if (hook) {
    writeFileSync(join(home, '.vmailmgr', 'vdeliver-predeliver'), hook);
    chmodSync(join(home, '.vmailmgr', 'vdeliver-predeliver'), 0o755);
  }
  return {
    ...paths,
    maildir: (user) => join(home, 'users', user),
    /** What qmail-local puts in the environment for `<ext>@example.com` (qmail-contract.md §1), and the doubles' settings. */
    env: (ext) => {
      const recipient = `vdomain-${ext}@example.com`;
      return {
        PATH,
        HOME: home,
        USER: 'vdomain',
        HOST: 'example.com',
        HOST2: 'example',
        HOST3: 'example',
        HOST4: 'example',
        LOCAL: `vdomain-${ext}`,
        RECIPIENT: recipient,
        EXT: ext,
        EXT2: '',
        EXT3: '',
        EXT4: '',
        DEFAULT: ext,
        SENDER,
        NEWSENDER: SENDER,
        DTLINE: `Delivered-To: ${recipient}\n`,
        RPLINE: `Return-Path: <${SENDER}>\n`,
        UFLINE: `From ${SENDER} Sun Nov 22 03:25:00 2026\n`,
        VDELIVER_CONFIG_DIR: paths.etc,
        TMPDIR: paths.tmp,
        QMAILQUEUE: SLOW_QUEUE,
        QQ_RECORD_DIR: paths.queue,
        QQ_PAUSE_MS: String(queuePauseMs),
      };
    },
  };
}

/**
 * The addresses a forward to `user` is queued for, from the fixture's own description of its records
 * (records.json, written when vmailmgr made the table): a bare name gets `@example.com`, as in vmailmgr.
 */
export function forwardsOf(user) {
  const records = JSON.parse(readFileSync(join(ROOT, 'fixtures', 'vmailmgr', 'basic', 'records.json'), 'utf8')).records;
  return records.find((r) => r.key === user).forwards.map((a) => (a.includes('@') ? a : `${a}@example.com`));
}
