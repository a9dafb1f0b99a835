/**
 * qmail passes envelope bytes through unchanged, valid UTF-8 or not; Node's process.env does not.
 * These run vdeliver with environment values holding Latin-1 bytes (set by the shell, since a
 * Node parent could only pass UTF-8) and check that the exact bytes reach the Maildir, the envelope
 * and the table lookup.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { buildCdb, writeCdb } from '../../src/cdb/cdb-writer';
import { encodePasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { scratchDir, VMAILMGR } from '../helpers/fixtures';
import { makeHome, maildirFiles, homeEnv, queueCalls, type TestHome, VDELIVER } from '../helpers/home';

const dir = scratchDir('vdeliver-raw-');
afterAll(() => dir.cleanup());
const MESSAGE = Buffer.from('From: a@b.example\nSubject: bytes\n\nHello.\n');

/** Run vdeliver with `raw` variables set by the shell from printf escapes (octal bytes allowed). */
function runWithRawEnv(t: TestHome, base: Record<string, string>, raw: Record<string, string>): { status: number | null; output: string } {
  const exports = Object.entries(raw)
    .map(([name, printf]) => `${name}="$(printf '${printf}_')"; ${name}="\${${name}%_}"; export ${name};`)
    .join(' ');
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, MESSAGE);
  const fd = openSync(messagePath, 'r');
  try {
    const env = { ...base };
    for (const name of Object.keys(raw)) delete env[name];
    const result = spawnSync('/bin/sh', ['-c', `${exports} umask 077; exec '${VDELIVER}' 2>&1`], {
      cwd: t.home,
      env,
      stdio: [fd, 'pipe', 'pipe'],
      encoding: 'latin1',
    });
    return { status: result.status, output: result.stdout };
  } finally {
    closeSync(fd);
  }
}

test('a Latin-1 sender reaches the Return-Path line and the envelope byte for byte', () => {
  const t = makeHome(join(dir.path, 'sender'));
  const base = homeEnv(t, 'bob', 'placeholder');
  const result = runWithRawEnv(t, base, {
    SENDER: 'j\\351r\\364me@remote.example',
    RPLINE: 'Return-Path: <j\\351r\\364me@remote.example>\\n',
  });
  expect(result).toEqual({ status: 0, output: '' });
  const sender = Buffer.from('j\xe9r\xf4me@remote.example', 'latin1');
  const [stored] = maildirFiles(t);
  expect(stored.content.equals(Buffer.concat([Buffer.from('Return-Path: <'), sender, Buffer.from(`>\n${base.DTLINE}`), MESSAGE]))).toBe(true);
  const [call] = queueCalls(t);
  expect(call.envelope.equals(Buffer.concat([Buffer.from('F'), sender, Buffer.from('\0Tbob@elsewhere.example\0Tcarol@example.com\0\0')]))).toBe(true);
  expect(call.envelopeCheck).toBe(0);
});

test('a Latin-1 local part finds its Latin-1 key, not the catch-all', () => {
  const t = makeHome(join(dir.path, 'latin1-key'));
  const reader = CdbReader.open(join(VMAILMGR, 'basic', 'passwd.cdb'));
  const records = [...reader.records()].map((r): [Buffer, Buffer] => [r.key, r.data]);
  reader.close();
  const record = encodePasswordRecord({
    password: '*',
    directory: './users/latin1',
    forwards: [],
    personal: '',
    hardquota: UNLIMITED,
    softquota: UNLIMITED,
    msgsize: UNLIMITED,
    msgcount: UNLIMITED,
    ctime: 0,
    expiry: UNLIMITED,
    hasMailbox: true,
    mailboxEnabled: true,
  });
  writeCdb(join(t.home, 'passwd.cdb'), [...records, [Buffer.from('j\xf6rg', 'latin1'), record]], { hash: 'signed' });
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(t.home, 'users', 'latin1', sub), { recursive: true });
  const result = runWithRawEnv(t, homeEnv(t, 'placeholder', 'sender@remote.example'), { EXT: 'J\\366RG' });
  expect(result).toEqual({ status: 0, output: '' });
  expect(maildirFiles(t).map((f) => f.path.split('/new/')[0])).toEqual(['users/latin1']);
  expect(queueCalls(t)).toEqual([]); // the catch-all would have forwarded to alice
  expect(readFileSync(join(t.home, maildirFiles(t)[0].path)).includes(Buffer.from('Hello.'))).toBe(true);
});

// Regressions for "bytes that are not UTF-8 are changed": Latin-1 values in the table, the config,
// control/me and HOST reach the file system, the envelope, hooks and the report unchanged.
const L1 = (text: string): Buffer => Buffer.from(text, 'latin1');
const record = (fields: Partial<Parameters<typeof encodePasswordRecord>[0]>): Buffer =>
  encodePasswordRecord({
    password: '*',
    directory: '',
    forwards: [],
    personal: '',
    hardquota: UNLIMITED,
    softquota: UNLIMITED,
    msgsize: UNLIMITED,
    msgcount: UNLIMITED,
    ctime: 0,
    expiry: UNLIMITED,
    hasMailbox: true,
    mailboxEnabled: true,
    ...fields,
  });

/** A home whose table holds exactly `records` (keys and fields as Latin-1 text, i.e. byte strings). */
function latin1Home(name: string, records: Array<[string, Buffer]>, table = 'passwd'): TestHome {
  const t = makeHome(join(dir.path, name));
  writeFileSync(
    L1(join(t.home, `${table}.cdb`)),
    Buffer.concat(
      buildCdb(
        records.map(([k, v]) => [L1(k), v]),
        { hash: 'signed' },
      ),
    ),
  );
  return t;
}

const mkMaildir = (t: TestHome, directory: string): void => {
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(L1(join(t.home, directory, sub)), { recursive: true });
};
const newFiles = (t: TestHome, directory: string): Buffer[] =>
  readdirSync(L1(join(t.home, directory, 'new')), { encoding: 'buffer' }).map((f) =>
    readFileSync(Buffer.concat([L1(join(t.home, directory, 'new')), L1('/'), f])),
  );

test('a Latin-1 forward is queued as its own bytes (was: m\\xef\\xbf\\xbdller)', () => {
  const t = latin1Home('latin1-forward', [['latin', record({ forwards: ['m\xfcller@example.org'], hasMailbox: false })]]);
  const result = runWithRawEnv(t, homeEnv(t, 'latin', 'sender@remote.example'), {});
  expect(result).toEqual({ status: 0, output: '' });
  const [call] = queueCalls(t);
  expect(call.envelope.equals(L1('Fsender@remote.example\0Tm\xfcller@example.org\0\0'))).toBe(true);
  expect(call.envelopeCheck).toBe(0);
});

test('a Latin-1 Maildir directory is delivered to (was: "does not appear to be a maildir")', () => {
  const t = latin1Home('latin1-maildir', [['latin', record({ directory: './users/j\xf6rg' })]]);
  mkMaildir(t, './users/j\xf6rg');
  const env = homeEnv(t, 'latin', 'sender@remote.example');
  expect(runWithRawEnv(t, env, {})).toEqual({ status: 0, output: '' });
  const [stored] = newFiles(t, './users/j\xf6rg');
  expect(stored.equals(Buffer.concat([Buffer.from(env.RPLINE + env.DTLINE), MESSAGE]))).toBe(true);
});

test('hooks get the exact bytes of MAILDIR, VUSER_PERSONAL and an 8-bit SENDER', () => {
  const t = latin1Home('latin1-hook', [['latin', record({ directory: './users/j\xf6rg', personal: 'J\xf6rg M\xfcller' })]]);
  mkMaildir(t, './users/j\xf6rg');
  const seen = join(t.root, 'hook.env');
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-predeliver'), `#!/bin/sh\nenv -0 > '${seen}'\ncat >/dev/null\n`, { mode: 0o755 });
  const result = runWithRawEnv(t, homeEnv(t, 'latin', 'placeholder'), { SENDER: 'j\\351r\\364me@remote.example' });
  expect(result).toEqual({ status: 0, output: '' });
  const env = new Map(
    readFileSync(seen)
      .toString('latin1')
      .split('\0')
      .filter(Boolean)
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  expect(env.get('MAILDIR')).toBe('./users/j\xf6rg');
  expect(env.get('VUSER_PERSONAL')).toBe('J\xf6rg M\xfcller');
  expect(env.get('SENDER')).toBe('j\xe9r\xf4me@remote.example');
  expect(env.get('VUSER')).toBe('latin');
});

test('a Latin-1 default-username finds its catch-all (was: bounced)', () => {
  const t = latin1Home('latin1-catchall', [['caf\xe9', record({ forwards: ['alice@example.com'], hasMailbox: false })]]);
  writeFileSync(join(t.home, '.vmailmgr', 'default-username'), L1('caf\xe9\n'));
  expect(runWithRawEnv(t, homeEnv(t, 'nobody', 'sender@remote.example'), {})).toEqual({ status: 0, output: '' });
  expect(queueCalls(t).map((c) => c.envelope.toString('latin1'))).toEqual(['Fsender@remote.example\0Talice@example.com\0\0']);
});

test('a Latin-1 password-file names the table by its bytes (was: t\\xef\\xbf\\xbdble.cdb)', () => {
  const t = latin1Home('latin1-table', [['latin', record({ forwards: ['alice@example.com'], hasMailbox: false })]], 't\xe9ble');
  writeFileSync(join(t.home, '.vmailmgr', 'password-file'), L1('t\xe9ble\n'));
  expect(runWithRawEnv(t, homeEnv(t, 'latin', 'sender@remote.example'), {})).toEqual({ status: 0, output: '' });
  expect(queueCalls(t)).toHaveLength(1);
});

test('a Latin-1 control/me and HOST complete forwards byte for byte', () => {
  const t = latin1Home('latin1-host', [['latin', record({ forwards: ['carol', 'user@'], hasMailbox: false })]]);
  writeFileSync(join(t.qmailRoot, 'control', 'me'), L1('mail.b\xfcro.example\n'));
  const result = runWithRawEnv(t, homeEnv(t, 'latin', 'sender@remote.example'), { HOST: 'b\\374ro.example' });
  expect(result).toEqual({ status: 0, output: '' });
  expect(queueCalls(t).map((c) => c.envelope.toString('latin1'))).toEqual(['Fsender@remote.example\0Tcarol@b\xfcro.example\0Tuser@mail.b\xfcro.example\0\0']);
});

test("the report names a Latin-1 user by its own bytes, as vmailmgr prints it (was: 'nob\\xef\\xbf\\xbddy')", () => {
  const t = latin1Home('latin1-report', [['latin', record({ forwards: ['alice@example.com'], hasMailbox: false })]]);
  const result = runWithRawEnv(t, homeEnv(t, 'placeholder', 'sender@remote.example'), { EXT: 'nob\\366dy' });
  expect(result).toEqual({ status: 100, output: "vdeliver: Invalid or unknown virtual user 'nob\xf6dy' (#5.1.1)\n" });
});
