/**
 * `vdeliver-admin log` on logs written by real deliveries (bin/vdeliver as qmail-local runs it), plus
 * hand-broken lines; and `vdeliver-admin test` showing the line a delivery logs or would log.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogRecord } from '../../src/delivery/delivery-log';
import { FIXTURES, scratchDir } from '../helpers/fixtures';
import { homeEnv, installHook, makeHome, runVdeliver, type TestHome } from '../helpers/home';
import { BIN, cleanEnv, runAdmin } from '../helpers/run';

const dir = scratchDir('vdeliver-admin-log-');
afterAll(() => dir.cleanup());

const MESSAGE = Buffer.from('From: a@b.example\nMessage-ID: <m1@b.example>\nSubject: logged\n\nHello.\n');
let homes = 0;
/** A logged home (deliveries.log) and, delivered into it in this order, one message to each name. */
function loggedHome(...names: string[]): TestHome {
  const t = makeHome(join(dir.path, `h${++homes}`));
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-log'), 'deliveries.log\n');
  for (const name of names) deliver(t, name);
  return t;
}
const deliver = (t: TestHome, name: string): number | null => runVdeliver(t, homeEnv(t, name, 'sender@remote.example'), [], MESSAGE).status;
const logPath = (t: TestHome): string => join(t.home, 'deliveries.log');
const logText = (t: TestHome): string => readFileSync(logPath(t), 'utf8');
const records = (t: TestHome): LogRecord[] =>
  logText(t)
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
// UTC, so the table's local times can be worked out from the log's own.
const adminEnv = (t: TestHome): Record<string, string> => cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir, TZ: 'UTC' });
const log = (t: TestHome, ...args: string[]) => runAdmin(['log', '--home', t.home, ...args], { env: adminEnv(t) });
const shownTime = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

describe('the table', () => {
  test('one row per delivery, oldest first: time, user, outcome, size, ms, where it went', () => {
    const t = loggedHome('alice', 'expired', 'nobody', 'bob');
    const result = log(t);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [head, ...rows] = result.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^time +user +outcome +size +ms +where$/);
    const [alice, expired, nobody, bob] = records(t);
    const row = (r: LogRecord, user: string, outcome: string, where: string): RegExp =>
      new RegExp(`^${shownTime(r.time)}  ${user} +${outcome} +${r.size ?? '-'} +${r.ms}  ${where}$`);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(row(alice, 'alice', 'delivered', `users/alice/new/${(alice.maildir as string).split('/new/')[1]}`));
    expect(rows[1]).toMatch(row(expired, 'expired', 'bounce', "Virtual user 'expired' has expired \\(#5\\.2\\.1\\)"));
    expect(rows[2]).toMatch(row(nobody, 'nobody \\(\\+\\)', 'delivered', '-> alice@example\\.com'));
    expect(rows[3]).toMatch(row(bob, 'bob', 'delivered', 'users/bob/new/\\S+  -> bob@elsewhere\\.example, carol@example\\.com'));
  });

  test('--to (ASCII case ignored, or the catch-all), --outcome and --since filter; --json passes the lines through', () => {
    const t = loggedHome('alice', 'Alice', 'expired', 'nobody');
    const lines = logText(t).trimEnd().split('\n');
    expect(log(t, '--json').stdout).toBe(logText(t));
    expect(log(t, '--json', '--to', 'ALICE').stdout).toBe(`${lines[0]}\n${lines[1]}\n`);
    expect(log(t, '--json', '--to', 'Alice@Example.COM').stdout).toBe(`${lines[0]}\n${lines[1]}\n`);
    expect(log(t, '--json', '--to', '+').stdout).toBe(`${lines[3]}\n`);
    expect(log(t, '--json', '--outcome', 'bounce').stdout).toBe(`${lines[2]}\n`);
    expect(log(t, '--json', '--outcome', 'bounce,delivered').stdout).toBe(logText(t));
    expect(log(t, '--json', '--since', '1h').stdout).toBe(logText(t));
    expect(log(t, '--json', '--since', 'today').stdout).toBe(logText(t));
    expect(log(t, '--json', '--since', '2999-01-01').stdout).toBe('');
    expect(log(t, '--json', '--since', records(t)[2].time).stdout).toBe(`${lines[2]}\n${lines[3]}\n`);
    // getopt_long's other spelling: --name=value.
    expect(log(t, '--json', `--since=${records(t)[2].time}`, '--outcome=delivered').stdout).toBe(`${lines[3]}\n`);
    expect(log(t, '--json', '--to=ALICE').stdout).toBe(`${lines[0]}\n${lines[1]}\n`);
  });

  test('broken lines are reported with their number and skipped; a cut line glued to the next keeps the next', () => {
    const t = loggedHome('alice');
    const [whole] = logText(t).split('\n');
    const cut = '{"time":"2026-11-22T03:25:00.000Z","pid":1,"outc';
    appendFileSync(logPath(t), `not json\n${cut}${whole}\n\n[1,2]\n${whole}\n{"time":"2026-11-22T03:2`);
    const result = log(t, '--json');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${whole}\n`.repeat(3));
    const file = logPath(t);
    expect(result.stderr).toBe(
      [
        `vdeliver-admin: ${file}:2: not JSON; skipped`,
        `vdeliver-admin: ${file}:3: a line cut short runs into this one: its first ${cut.length} bytes are skipped; skipped`,
        `vdeliver-admin: ${file}:4: an empty line; skipped`,
        `vdeliver-admin: ${file}:5: not a delivery record (time, outcome and exit are needed); skipped`,
        `vdeliver-admin: ${file}:7: not JSON; skipped`,
        '',
      ].join('\n'),
    );
  });

  test('8-bit values are decoded for display: UTF-8 as text, other bytes as \\xNN', () => {
    const t = loggedHome();
    const line = (ext: unknown) =>
      JSON.stringify({ time: '2026-11-22T03:25:00.000Z', pid: 1, outcome: 'bounce', exit: 100, status: 'vdeliver: no', ext, ms: 1 });
    writeFileSync(logPath(t), `${line({ bytes: 'J\\xf6rg\\x5cx' })}\n${line('jörg')}\n`);
    const rows = log(t).stdout.split('\n');
    // printable()'s form, as every admin command shows bytes: the backslash itself is shown as it is.
    expect(rows[1]).toMatch(/^2026-11-22 03:25:00 {2}J\\xf6rg\\x +bounce/);
    expect(rows[2]).toMatch(/^2026-11-22 03:25:00 {2}jörg +bounce/);
  });
});

test('--stats: per user, the slowest deliveries, the hooks that failed', () => {
  const t = loggedHome('alice', 'alice', 'expired', 'carol');
  installHook(t, 'local', 'vdeliver-predeliver', 'pre', 111);
  expect(deliver(t, 'carol')).toBe(111);
  const all = records(t);
  const result = log(t, '--stats');
  expect(result.status).toBe(0);
  const text = result.stdout;
  expect(text).toContain(`5 deliveries: 3 delivered, 0 skipped, 1 bounced, 1 deferred; ${3 * MESSAGE.length} bytes accepted\n`);
  expect(text).toMatch(/\nuser +delivered +skipped +bounced +deferred +bytes\n/);
  expect(text).toMatch(new RegExp(`\\nalice +2 +0 +0 +0 +${2 * MESSAGE.length}\\n`));
  expect(text).toMatch(new RegExp(`\\ncarol +1 +0 +0 +1 +${MESSAGE.length}\\n`));
  expect(text).toMatch(/\nexpired +0 +0 +1 +0 +0\n/);
  const hook = join(t.home, '.vmailmgr', 'vdeliver-predeliver');
  expect(text).toContain(`\nhooks that failed:\n  ${hook}: 1 time; last ${shownTime(all[4].time)} for carol: exited 111\n`);
  const slowest = [...all].sort((a, b) => b.ms - a.ms)[0];
  expect(text).toMatch(new RegExp(`\\nslowest:\\n +${slowest.ms} ms  ${shownTime(slowest.time)}  ${slowest.ext} \\(${slowest.outcome}\\)`));
  const json = JSON.parse(log(t, '--stats', '--json').stdout);
  expect(json.deliveries).toBe(5);
  expect(json.users).toEqual([
    { user: 'alice', delivered: 2, skipped: 0, bounced: 0, deferred: 0, bytes: 2 * MESSAGE.length },
    { user: 'carol', delivered: 1, skipped: 0, bounced: 0, deferred: 1, bytes: MESSAGE.length },
    { user: 'expired', delivered: 0, skipped: 0, bounced: 1, deferred: 0, bytes: 0 },
  ]);
  expect(json.failedHooks).toEqual([{ path: hook, failures: 1, last: { time: all[4].time, user: 'carol', what: 'exited 111' } }]);
  expect(json.slowest).toHaveLength(5);
  expect(log(t, '--stats', '--to', 'alice', '--json').stdout).toContain('"deliveries":2');
});

describe('a reader that stops reading (vdeliver-admin log | head -1)', () => {
  /** The command with its output read until the first line, then the pipe closed: its status and stderr. */
  function headOne(args: string[], env: Record<string, string>): Promise<{ status: number | null; err: string }> {
    const child = spawn(join(BIN, 'vdeliver-admin'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    return new Promise((resolve) =>
      child.on('close', (status) => {
        clearTimeout(killer);
        resolve({ status, err });
      }),
    );
  }

  test('a long log ends the command quietly, with the status of a program killed by SIGPIPE', async () => {
    const t = loggedHome('alice');
    const big = join(dir.path, `big-${homes}.log`);
    writeFileSync(big, logText(t).repeat(20_000));
    for (const json of [[], ['--json']]) {
      expect(await headOne(['log', '--home', t.home, '--file', big, ...json], adminEnv(t))).toEqual({ status: 141, err: '' });
    }
  }, 60_000);

  test('--follow ends with it instead of polling on', async () => {
    const t = loggedHome('alice');
    const following = headOne(['log', '--home', t.home, '--follow'], adminEnv(t));
    await new Promise((r) => setTimeout(r, 500));
    deliver(t, 'carol'); // a line to write into the closed pipe
    expect(await following).toEqual({ status: 141, err: '' });
  }, 60_000);
});

test('--follow prints deliveries as they come, through a rename and a truncation', async () => {
  const t = loggedHome('alice');
  const child = spawn(join(BIN, 'vdeliver-admin'), ['log', '--home', t.home, '--follow', '--json'], { env: adminEnv(t), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const lines = async (count: number): Promise<LogRecord[]> => {
    for (let waited = 0; out.split('\n').length - 1 < count && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    return out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
  };
  try {
    expect((await lines(1)).map((r) => r.ext)).toEqual(['alice']);
    deliver(t, 'carol');
    expect((await lines(2)).map((r) => r.ext)).toEqual(['alice', 'carol']);
    renameSync(logPath(t), `${logPath(t)}.1`); // logrotate's default
    deliver(t, 'bob');
    expect((await lines(3)).map((r) => r.ext)).toEqual(['alice', 'carol', 'bob']);
    writeFileSync(logPath(t), ''); // copytruncate
    deliver(t, 'expired');
    expect((await lines(4)).map((r) => r.ext)).toEqual(['alice', 'carol', 'bob', 'expired']);
    expect(err).toBe('');
  } finally {
    child.kill();
  }
}, 60_000);

describe('what cannot be read', () => {
  test.each<[string, (t: TestHome) => string[], RegExp]>([
    ['no vdeliver-log', (t) => ['--home', `${t.home}-none`], /^vdeliver-admin: no delivery log is kept: vdeliver-log is not set in .*\.vmailmgr or .*etc\n$/],
    ['no file yet', (t) => ['--home', t.home], /^vdeliver-admin: the delivery log .*deliveries\.log does not exist: nothing has been logged yet\n$/],
    ['a bad --since', (t) => ['--home', t.home, '--since', 'soon'], /^vdeliver-admin: --since: 'soon' is not a time/],
    ['a value for a flag', (t) => ['--home', t.home, '--follow=yes'], /^vdeliver-admin: --follow takes no value\n$/],
    ['a bad --outcome', (t) => ['--home', t.home, '--outcome', 'lost'], /^vdeliver-admin: --outcome: 'lost' is not delivered, skip, bounce or defer\n$/],
    [
      '--stats with --follow',
      (t) => ['--home', t.home, '--stats', '--follow'],
      /^vdeliver-admin: log: --stats sums up the log as it is; it cannot --follow\n$/,
    ],
  ])('%s: one line, exit 1', (_name, args, said) => {
    const t = loggedHome();
    const result = runAdmin(['log', ...args(t)], { env: adminEnv(t) });
    expect(result.stderr).toMatch(said);
    expect(result.status).toBe(1);
  });
});

describe('vdeliver-admin test shows the log line', () => {
  const plain = join(FIXTURES, 'messages', 'plain.eml');
  const adminTest = (t: TestHome, ...more: string[]) =>
    runAdmin(['test', '--home', t.home, '--to', 'alice@example.com', '--from', 'sender@remote.example', ...more, plain], {
      env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir, USER: 'vdomain' }),
    });

  test('a delivery: the line it appended', () => {
    const t = loggedHome();
    const result = adminTest(t);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`\n  log       logged to ${logPath(t)}:\n            ${logText(t)}`);
    expect(records(t)[0]).toMatchObject({ outcome: 'delivered', ext: 'alice', message_id: '<20261122031921.GA4711@mail.example.net>' });
  });

  test('a dry run: "would log", and the log is left alone', () => {
    const t = loggedHome('carol');
    const before = logText(t);
    const result = adminTest(t, '--dry-run');
    expect(result.status).toBe(0);
    const shown = /\n {2}log {7}would log to (.*):\n {12}(.*)\n/.exec(result.stdout);
    expect(shown?.[1]).toBe(logPath(t));
    expect(JSON.parse(shown![2])).toMatchObject({ outcome: 'delivered', exit: 0, ext: 'alice', key: 'alice', via: 'direct' });
    expect(logText(t)).toBe(before);
  });

  test('no log kept: the line it would be; --json has it too', () => {
    const t = makeHome(join(dir.path, `h${++homes}`));
    expect(adminTest(t).stdout).toMatch(/\n {2}log {7}not kept \(vdeliver-log is not set\); the line would be:\n {12}\{"time":.*"outcome":"delivered"/);
    const json = JSON.parse(adminTest(t, '--json').stdout);
    expect(json.log).toEqual({ line: expect.stringMatching(/^\{"time":/), written: false });
  });
});

test('a log that cannot be read is one line and exit 1, with --follow too', () => {
  const t = loggedHome();
  mkdirSync(logPath(t)); // read(2) on it fails: EISDIR
  for (const args of [[], ['--follow']]) {
    const result = log(t, ...args);
    expect({ status: result.status, err: result.stderr }).toEqual({
      status: 1,
      err: `vdeliver-admin: cannot read the delivery log ${logPath(t)}: EISDIR (illegal operation on a directory)\n`,
    });
  }
});
