/**
 * qmail passes envelope bytes through unchanged, valid UTF-8 or not; Node's process.env does not.
 * These run vdeliver with environment values holding Latin-1 bytes (set by the shell, since a
 * Node parent could only pass UTF-8) and check that the exact bytes reach the Maildir, the envelope
 * and the table lookup.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CdbReader } from '../src/cdb-reader';
import { writeCdb } from '../src/cdb-writer';
import { encodePasswordRecord } from '../src/password-record';
import { UNLIMITED } from '../src/uint32';
import { scratchDir, VMAILMGR } from './helpers/fixtures';
import { makeHome, maildirFiles, qmailLocalEnv, queueCalls, type TestHome, VDELIVER } from './helpers/home';

const dir = scratchDir('vdeliver-raw-');
afterAll(() => dir.cleanup());
const MESSAGE = Buffer.from('From: a@b.example\nSubject: bytes\n\nHello.\n');

/** Run vdeliver with `raw` variables set by the shell from printf escapes (octal bytes allowed). */
function runWithRawEnv(t: TestHome, base: Record<string, string>, raw: Record<string, string>): { status: number | null; output: string } {
  const exports = Object.entries(raw).map(([name, printf]) => `${name}="$(printf '${printf}_')"; ${name}="\${${name}%_}"; export ${name};`).join(' ');
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, MESSAGE);
  const fd = openSync(messagePath, 'r');
  try {
    const env = { ...base };
    for (const name of Object.keys(raw)) delete env[name];
    const result = spawnSync('/bin/sh', ['-c', `${exports} umask 077; exec '${VDELIVER}' 2>&1`], { cwd: t.home, env, stdio: [fd, 'pipe', 'pipe'], encoding: 'latin1' });
    return { status: result.status, output: result.stdout };
  } finally {
    closeSync(fd);
  }
}

test('a Latin-1 sender reaches the Return-Path line and the envelope byte for byte', () => {
  const t = makeHome(join(dir.path, 'sender'));
  const base = qmailLocalEnv(t, 'bob', 'placeholder');
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
    password: '*', directory: './users/latin1', forwards: [], personal: '', hardquota: UNLIMITED, softquota: UNLIMITED,
    msgsize: UNLIMITED, msgcount: UNLIMITED, ctime: 0, expiry: UNLIMITED, hasMailbox: true, mailboxEnabled: true,
  });
  writeCdb(join(t.home, 'passwd.cdb'), [...records, [Buffer.from('j\xf6rg', 'latin1'), record]], { hash: 'signed' });
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(t.home, 'users', 'latin1', sub), { recursive: true });
  const result = runWithRawEnv(t, qmailLocalEnv(t, 'placeholder', 'sender@remote.example'), { EXT: 'J\\366RG' });
  expect(result).toEqual({ status: 0, output: '' });
  expect(maildirFiles(t).map((f) => f.path.split('/new/')[0])).toEqual(['users/latin1']);
  expect(queueCalls(t)).toEqual([]); // the catch-all would have forwarded to alice
  expect(readFileSync(join(t.home, maildirFiles(t)[0].path)).includes(Buffer.from('Hello.'))).toBe(true);
});
