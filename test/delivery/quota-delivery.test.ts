/** Quotas end to end: bin/vdeliver run as qmail-local runs it, with vdeliver-enforce-quotas on. */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCdb } from '../../src/cdb/cdb-writer';
import { MAILDIRSIZE, recalculate } from '../../src/maildir/maildirsize';
import { encodePasswordRecord, type PasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED as U } from '../../src/vmailmgr/uint32';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { NOBODY } from '../helpers/requirements.cjs';
import { needs } from '../helpers/requires';
import { makeHome, homeEnv, runVdeliver, type TestHome, VDELIVER } from '../helpers/home';

const dir = scratchDir('vdeliver-quota-delivery-');
afterAll(() => dir.cleanup());

type Limits = Pick<PasswordRecord, 'hardquota' | 'softquota' | 'msgsize' | 'msgcount'>;
let homes = 0;
/** A home whose one user `carol` has a Maildir and the given limits, with enforcement switched on (or not). */
function home(limits: Partial<Limits>, enforce = '1'): TestHome {
  const t = makeHome(join(dir.path, `h${++homes}`));
  writeCdb(join(t.home, 'passwd.cdb'), [
    [
      Buffer.from('carol'),
      encodePasswordRecord({
        password: '*',
        directory: './users/carol',
        forwards: [],
        personal: '',
        hardquota: U,
        softquota: U,
        msgsize: U,
        msgcount: U,
        ctime: 0,
        expiry: U,
        hasMailbox: true,
        mailboxEnabled: true,
        ...limits,
      }),
    ],
  ]);
  if (enforce !== '') writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-enforce-quotas'), `${enforce}\n`);
  return t;
}
const env = (t: TestHome): Record<string, string> => homeEnv(t, 'carol', 'sender@remote.example');
const message = (size: number): Buffer => Buffer.concat([Buffer.from('Subject: q\n\n'), Buffer.alloc(Math.max(0, size - 12), 'x')]);
const stored = (t: TestHome, size: number): number => Buffer.byteLength(env(t).RPLINE + env(t).DTLINE) + size;
const inNew = (t: TestHome): string[] => readdirSync(join(t.home, 'users', 'carol', 'new'));

const SIZE = /^vdeliver: Sorry, this message is larger than the current maximum message size limit\. \(#5\.3\.4\)\n$/;
const COUNT = /^vdeliver: Sorry, the person you sent this message has too many messages stored in the mailbox \(#5\.2\.2\)\n$/;
const HARD = /^vdeliver: Message would exceed virtual user's disk quota\. \(#5\.2\.2\)\n$/;
const SOFT =
  /^vdeliver: Sorry, your message cannot be delivered\. User's disk quota exceeded\. A small message will be delivered should you wish to inform this person\. \(#5\.2\.2\)\n$/;

describe('each rule through bin/vdeliver: limits, usage from earlier deliveries, then one more message', () => {
  test.each<[string, Partial<Limits>, number[], number, 0 | 100, RegExp | undefined]>([
    // name, limits, sizes delivered first, size of the next, its exit, its line
    ['msgsize refuses a bigger message', { msgsize: 1000 }, [], 1001, 100, SIZE],
    ['msgsize passes a message of that size', { msgsize: 1000 }, [], 1000, 0, undefined],
    ['msgcount: the second message of a limit of 1 bounces', { msgcount: 1 }, [100], 100, 100, COUNT],
    ['hard quota: room for one message only', { hardquota: 3000 }, [1500], 1500, 100, HARD],
    ['a soft quota alone is a hard one: no allowance for a small message', { softquota: 3000 }, [2900], 100, 100, HARD],
    ['soft quota: a big message bounces', { hardquota: 100000, softquota: 3000 }, [2500], 5000, 100, SOFT],
    ['soft quota: a small message passes', { hardquota: 100000, softquota: 3000 }, [2500], 4000, 0, undefined],
    ['limits of 0 refuse the first message', { hardquota: 0, msgcount: 0 }, [], 10, 100, COUNT],
  ])('%s', (_name, limits, before, next, exit, line) => {
    const t = home(limits);
    for (const size of before) expect(runVdeliver(t, env(t), [], message(size))).toEqual({ status: 0, output: '' });
    const result = runVdeliver(t, env(t), [], message(next));
    expect(result.status).toBe(exit);
    if (line) expect(result.output).toMatch(line);
    else expect(result.output).toBe('');
    expect(inNew(t)).toHaveLength(before.length + (exit === 0 ? 1 : 0));
    expect(readdirSync(join(t.home, 'users', 'carol', 'tmp'))).toEqual([]);
  });
});

test('off by default: the same limits bounce nothing (vmailmgr leaves them to vcheckquota)', () => {
  const t = home({ hardquota: 10, msgcount: 1 }, '');
  for (let i = 0; i < 2; i++) expect(runVdeliver(t, env(t), [], message(100)).status).toBe(0);
  expect(inNew(t)).toHaveLength(2);
});

test('maildirsize: written from the record, one line per delivery, the sizes in the names', () => {
  const t = home({ hardquota: 100000, msgcount: 50 });
  for (const size of [100, 200]) runVdeliver(t, env(t), [], message(size));
  const maildir = join(t.home, 'users', 'carol');
  expect(readFileSync(join(maildir, MAILDIRSIZE), 'utf8')).toBe(`100000S,50C\n0 0\n${stored(t, 100)} 1\n${stored(t, 200)} 1\n`);
  expect(
    inNew(t)
      .map((name) => Number(/,S=(\d+)$/.exec(name)?.[1]))
      .sort((a, b) => a - b),
  ).toEqual([stored(t, 100), stored(t, 200)]);
});

test("the admin's over-quota text comes before the status line", () => {
  const t = home({ msgcount: 0 });
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-over-quota-msg'), "Carol's mailbox is full.\nPlease call +1 555 0100.\n");
  const result = runVdeliver(t, env(t), [], message(10));
  expect(result.status).toBe(100);
  expect(result.output).toBe(
    "Carol's mailbox is full.\nPlease call +1 555 0100.\nvdeliver: Sorry, the person you sent this message has too many messages stored in the mailbox (#5.2.2)\n",
  );
});

test("the admin's no-user text comes before the unknown-user line", () => {
  const t = home({}, '');
  writeFileSync(join(t.home, '.vmailmgr', 'default-username'), 'nobody-at-all\n');
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-no-user-msg'), 'No such person here.\n');
  const result = runVdeliver(t, homeEnv(t, 'dave', 'sender@remote.example'), [], message(10));
  expect(result).toEqual({ status: 100, output: "No such person here.\nvdeliver: Invalid or unknown virtual user 'dave' (#5.1.1)\n" });
});

test('crossing the warning percentage stores the warning once per interval', () => {
  const t = home({ hardquota: 10000 });
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-quota-warning'), 'From: postmaster\nSubject: Your mailbox is almost full\n\nPlease delete some mail.\n');
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-quota-warn-percent'), '50\n');
  expect(runVdeliver(t, env(t), [], message(2000)).status).toBe(0);
  expect(inNew(t)).toHaveLength(1); // 2000 + lines of 10000: under 50 %
  for (let i = 0; i < 3; i++) expect(runVdeliver(t, env(t), [], message(1000)).status).toBe(0);
  const warnings = inNew(t).filter((name) => readFileSync(join(t.home, 'users', 'carol', 'new', name), 'utf8').includes('almost full'));
  expect(warnings).toHaveLength(1);
  expect(inNew(t)).toHaveLength(5);
  // The warning counts too: the figures equal a fresh count.
  const maildir = join(t.home, 'users', 'carol');
  expect(figures(maildir)).toEqual(recalculate(maildir, '10000S', false));
});

test('8 parallel writers x 200 deliveries: the figures add up to a fresh count, or are gone to be counted afresh', async () => {
  const t = home({ hardquota: 1000 * 1000 * 1000, msgcount: 100000 });
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, message(300));
  const writer = (): Promise<number> =>
    new Promise((resolve) => {
      const script = `for i in $(seq 200); do '${VDELIVER}' < '${messagePath}' || exit 1; done`;
      spawn('/bin/sh', ['-c', script], { env: env(t), cwd: t.home, stdio: 'ignore' }).on('close', (code) => resolve(code ?? 1));
    });
  expect(await Promise.all(Array.from({ length: 8 }, writer))).toEqual(Array(8).fill(0));
  const maildir = join(t.home, 'users', 'carol');
  expect(inNew(t)).toHaveLength(1600);
  const definition = '1000000000S,100000C';
  // Rescans raced deliveries all along (the file passes 5120 bytes every ~850 lines). What is left
  // must be exact, or absent (a delivery that could not be sure removed it).
  if (existsSync(join(maildir, MAILDIRSIZE))) expect(figures(maildir)).toEqual(recalculate(maildir, definition, false));
  // One more delivery in a quiet mailbox leaves the file, and it adds up.
  expect(runVdeliver(t, env(t), [], message(300)).status).toBe(0);
  expect(figures(maildir)).toEqual(recalculate(maildir, definition, false));
  expect(figures(maildir).count).toBe(1601);
}, 300000);

/** The sum of the maildirsize figure lines. */
function figures(maildir: string): { bytes: number; count: number } {
  const lines = readFileSync(join(maildir, MAILDIRSIZE), 'latin1').trim().split('\n').slice(1);
  const sum = { bytes: 0, count: 0 };
  for (const [bytes, count] of lines.map((l) => l.trim().split(/\s+/).map(Number))) {
    sum.bytes += bytes;
    sum.count += count;
  }
  return sum;
}

test('vdeliver-admin test shows the decision and its figures; its dry run writes no maildirsize', () => {
  const t = home({ msgcount: 1 });
  expect(runVdeliver(t, env(t), [], message(100)).status).toBe(0);
  const maildir = join(t.home, 'users', 'carol');
  rmSync(join(maildir, MAILDIRSIZE));
  const file = join(t.root, 'next.eml');
  writeFileSync(file, message(100));
  const admin = spawnSync(join(ROOT, 'bin', 'vdeliver-admin'), ['test', '--home', t.home, '--to', 'carol@example.com', '--dry-run', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VDELIVER_CONFIG_DIR: t.globalDir },
    encoding: 'utf8',
  });
  expect(admin.stdout).toMatch(
    /\n {2}quota {5}refuse \(msgcount\): message 100 bytes \(\d+ stored\); usage \d+ bytes in 1 message\(s\) \(recounted: maildirsize missing\); hardquota -, softquota -, msgsize -, msgcount 1\n/,
  );
  expect(admin.stdout).toMatch(/would exit 100 \(bounce\): vdeliver: Sorry, the person you sent this message has too many messages/);
  expect(existsSync(join(maildir, MAILDIRSIZE))).toBe(false);
});

test('vdeliver-admin quota: limits, usage and the next delivery, reading changes nothing; --recalculate rewrites', () => {
  const t = home({ hardquota: 5000, msgcount: 3 });
  for (const size of [1000, 1000]) expect(runVdeliver(t, env(t), [], message(size)).status).toBe(0);
  const admin = (...args: string[]) =>
    spawnSync(join(ROOT, 'bin', 'vdeliver-admin'), ['quota', '--home', t.home, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VDELIVER_CONFIG_DIR: t.globalDir },
      encoding: 'utf8',
    });
  const used = 2 * stored(t, 1000);
  const shown = admin('carol', '--size', '3000');
  expect(shown.status).toBe(0);
  expect(admin('carol', '--size=3000').stdout).toBe(shown.stdout);
  expect(admin('carol', '--recalculate=yes').stderr).toBe('vdeliver-admin: --recalculate takes no value\n');
  expect(shown.stdout).toBe(
    `carol  ./users/carol\n  limits  hardquota 5000, softquota -, msgsize -, msgcount 3\n  usage   ${used} bytes in 2 message(s)\n` +
      "  next    3000 bytes: bounce: vdeliver: Message would exceed virtual user's disk quota. (#5.2.2)\n",
  );
  const maildir = join(t.home, 'users', 'carol');
  writeFileSync(join(maildir, MAILDIRSIZE), '5000S,3C\n0 0\n'); // figures that are wrong, but trusted
  expect(JSON.parse(admin('--json', '--size', '100').stdout)).toMatchObject({ name: 'carol', usage: { bytes: 0, count: 0 }, next: { result: 'delivered' } });
  expect(JSON.parse(admin('--json', '--recalculate').stdout)).toMatchObject({ usage: { bytes: used, count: 2 }, counted: 'asked for (--recalculate)' });
  expect(readFileSync(join(maildir, MAILDIRSIZE), 'utf8')).toBe(`5000S,3C\n${used} 2\n`);
  expect(admin('nobody').stderr).toBe("vdeliver-admin: no virtual user 'nobody'\n");
});

needs('root')("vdeliver-admin quota --recalculate run as root writes maildirsize as the home's owner, whose deliveries must read it", () => {
  const t = home({ hardquota: 5000 });
  expect(runVdeliver(t, env(t), [], message(1000)).status).toBe(0);
  chmodSync(dir.path, 0o755);
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, t.home]);
  const maildir = join(t.home, 'users', 'carol');
  rmSync(join(maildir, MAILDIRSIZE), { force: true });
  const admin = spawnSync(join(ROOT, 'bin', 'vdeliver-admin'), ['quota', '--home', t.home, '--recalculate', 'carol'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VDELIVER_CONFIG_DIR: t.globalDir },
    encoding: 'utf8',
  });
  expect(admin.stderr).toBe('');
  expect(admin.status).toBe(0);
  const st = statSync(join(maildir, MAILDIRSIZE));
  expect([st.uid, st.gid]).toEqual([NOBODY, NOBODY]);
});

test('a mailbox that cannot be counted defers (a quota cannot be judged on a guess)', () => {
  const t = home({ hardquota: 100000 });
  const cur = join(t.home, 'users', 'carol', 'cur');
  rmSync(cur, { recursive: true });
  symlinkSync(cur, cur); // stat gives ELOOP: a real error from the file system, whoever runs the test
  const result = runVdeliver(t, env(t), [], message(100));
  expect(result).toEqual({
    status: 111,
    output: expect.stringMatching(
      /^vdeliver: cannot count the mailbox for its quota: .*\/users\/carol\/cur: ELOOP \(too many symbolic links encountered\) \(#4\.3\.0\)\n$/,
    ),
  });
  expect(inNew(t)).toEqual([]);
  expect(readdirSync(join(t.home, 'users', 'carol', 'tmp'))).toEqual([]);
});
