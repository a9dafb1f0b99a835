import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FIXTURES, scratchDir } from '../helpers/fixtures';
import { installHook, makeHome, maildirFiles, homeEnv, runVdeliver, type TestHome } from '../helpers/home';
import { NOBODY } from '../helpers/requirements.cjs';
import { needs } from '../helpers/requires';
import { cleanEnv, runAdmin } from '../helpers/run';

const MESSAGES = join(FIXTURES, 'messages');
const corpus = readdirSync(MESSAGES)
  .filter((f) => f.endsWith('.eml'))
  .sort();
const dir = scratchDir('vdeliver-admin-test-');
afterAll(() => dir.cleanup());

let homes = 0;
const freshHome = (): TestHome => makeHome(join(dir.path, `home-${++homes}`));
const adminEnv = (t: TestHome): Record<string, string> => cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir, USER: 'vdomain' });
const testArgs = (t: TestHome, to: string, ...more: string[]): string[] => [
  'test',
  '--home',
  t.home,
  '--to',
  to,
  '--from',
  'sender@remote.example',
  '--env',
  `QQ_RECORD_DIR=${t.qqDir}`,
  ...more,
];

/** Every path under the home with its type, mode and content hash: "changed nothing" means this is equal. */
function treeHash(root: string): string {
  const lines: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = lstatSync(path);
      const content = st.isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex') : '';
      lines.push(`${relative(root, path)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${content}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

describe('vdeliver-admin test on the message corpus', () => {
  test.each(corpus)('%s: summarized, then stored byte for byte by the admin test and by bin/vdeliver', (name) => {
    const message = readFileSync(join(MESSAGES, name));
    const t = freshHome();
    const result = runAdmin([...testArgs(t, 'alice@example.com'), '--json', join(MESSAGES, name)], { env: adminEnv(t) });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.message.size).toBe(message.length);
    expect(report.exitCode).toBe(0);
    expect(report.lookup).toMatchObject({ ext: 'alice', key: 'alice', found: true, via: 'direct' });
    const stored = readFileSync(join(t.home, report.maildir.file));
    const env = homeEnv(t, 'alice', 'sender@remote.example');
    expect(stored.equals(Buffer.concat([Buffer.from(env.RPLINE), Buffer.from(env.DTLINE), message]))).toBe(true);

    // The same message through bin/vdeliver, as qmail-local runs it, lands identically.
    const direct = runVdeliver(t, env, [], message);
    expect(direct.status).toBe(0);
    const files = maildirFiles(t).filter((f) => f.path.startsWith('users/alice/new/'));
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.content.equals(stored))).toBe(true);
  });

  test('the summary names the parts of a multipart message and decodes encoded headers', () => {
    const t = freshHome();
    const result = runAdmin(
      [...testArgs(t, 'alice@example.com'), '--dry-run', '--json', join(MESSAGES, 'attachment-binary.eml'), join(MESSAGES, 'rfc2047-latin1.eml')],
      { env: adminEnv(t) },
    );
    const [attachments, latin1] = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(attachments.message.attachments.map((a: { filename: string }) => a.filename)).toEqual(['logo.png', 'dump.bin']);
    expect(latin1.message.subject).toBe('Reçu de la réunion à Zürich');
  });
});

describe('--dry-run', () => {
  test('walks the whole pipeline and changes nothing in the home', () => {
    const t = freshHome();
    installHook(t, 'local', 'vdeliver-predeliver', 'local-pre', 0);
    installHook(t, 'local', 'vdeliver-postdeliver', 'local-post', 0);
    const before = treeHash(t.root);
    const result = runAdmin([...testArgs(t, 'bob@example.com'), '--dry-run', join(MESSAGES, 'plain.eml'), join(MESSAGES, 'crlf.eml')], { env: adminEnv(t) });
    expect(result.status).toBe(0);
    expect(treeHash(t.root)).toBe(before);
    expect(result.stdout).toContain('(dry run: nothing is changed)');
    expect(result.stdout).toMatch(/hook {6}predeliver .*vdeliver-predeliver: would run/);
    expect(result.stdout).toContain('maildir   would store in users/bob/new/');
    expect(result.stdout).toContain('forward   would queue through');
    expect(result.stdout).toContain('Fsender@remote.example\\0Tbob@elsewhere.example\\0Tcarol@example.com\\0\\0');
    expect(result.stdout).toContain('2 messages: 2 would be delivered, 0 would be bounced, 0 would be deferred');
    // The same run with every value given as --name=value.
    const spelled = ['test', '--home', t.home, '--to=bob@example.com', '--from=sender@remote.example', `--env=QQ_RECORD_DIR=${t.qqDir}`, '--dry-run'];
    const again = runAdmin([...spelled, join(MESSAGES, 'plain.eml'), join(MESSAGES, 'crlf.eml')], { env: adminEnv(t) });
    // The log lines differ only in their time, pid and duration.
    const steady = (out: string): string => out.replace(/"time":"[^"]*","pid":\d+/g, '').replace(/"ms":\d+/g, '');
    expect(steady(again.stdout)).toBe(steady(result.stdout));
    expect(runAdmin([...spelled, '--dry-run=no', join(MESSAGES, 'plain.eml')], { env: adminEnv(t) }).stderr).toBe('vdeliver-admin: --dry-run takes no value\n');
  });

  test('reports what the real run would meet: a missing Maildir defers', () => {
    const t = freshHome();
    const result = runAdmin([...testArgs(t, 'carol@example.com'), '--dry-run', '--json', join(MESSAGES, 'plain.eml')], { env: adminEnv(t) });
    expect(JSON.parse(result.stdout).exitCode).toBe(0);
    const broken = freshHome();
    rmSync(join(broken.home, 'users', 'carol', 'new'), { recursive: true });
    const after = runAdmin([...testArgs(broken, 'carol@example.com'), '--dry-run', '--json', join(MESSAGES, 'plain.eml')], { env: adminEnv(broken) });
    expect(after.status).toBe(1);
    expect(JSON.parse(after.stdout)).toMatchObject({ exitCode: 111, line: 'vdeliver: Destination directory does not appear to be a maildir. (#4.2.1)' });
  });
});

describe('real test deliveries', () => {
  test('hooks run with their output kept in the report, forwards reach qmail-queue, the summary counts outcomes', () => {
    const t = freshHome();
    installHook(t, 'local', 'vdeliver-predeliver', 'local-pre', 0);
    writeFileSync(join(t.home, '.vmailmgr', 'default-username'), 'no-such-default\n');
    const result = runAdmin([...testArgs(t, 'info@example.com'), join(MESSAGES, 'plain.eml'), join(MESSAGES, 'no-body.eml')], { env: adminEnv(t) });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/hook {6}predeliver .*exited 0 \(continue\)/);
    expect(result.stdout).toContain('forward   queued through');
    expect(readdirSync(t.qqDir).filter((f) => f.endsWith('.envelope'))).toHaveLength(2);
    expect(result.stdout).toContain('2 messages: 2 delivered, 0 bounced, 0 deferred');

    const unknown = runAdmin([...testArgs(t, 'nobody@example.com'), join(MESSAGES, 'plain.eml'), '--json'], { env: adminEnv(t) });
    expect(unknown.status).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      exitCode: 100,
      line: "vdeliver: Invalid or unknown virtual user 'nobody' (#5.1.1)",
      lookup: { found: false, key: 'nobody', catchAll: 'no-such-default' },
    });
  });

  test('bad arguments give one line and exit 1', () => {
    const t = freshHome();
    expect(runAdmin(['test', '--home', t.home, join(MESSAGES, 'plain.eml')], { env: adminEnv(t) }).stderr).toBe(
      'vdeliver-admin: test: --to needs an address like alice@example.com\n',
    );
    const missing = runAdmin([...testArgs(t, 'alice@example.com'), join(MESSAGES, 'nope.eml')], { env: adminEnv(t) });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^vdeliver-admin: [^\n]*nope\.eml[^\n]*\n$/);
    expect(statSync(t.home).isDirectory()).toBe(true);
  });
});

needs('root')("run as root on a base user's home, the delivery's USER is that user, as qmail-local sets it, not root", () => {
  chmodSync(dir.path, 0o755);
  const t = freshHome();
  writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-predeliver'), '#!/bin/sh\necho "USER=$USER"\n', { mode: 0o755 });
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, t.home]);
  const result = runAdmin(testArgs(t, 'alice@example.com', '--json', join(MESSAGES, corpus[0])), {
    env: cleanEnv({ VDELIVER_CONFIG_DIR: t.globalDir, USER: 'root', LOGNAME: 'root' }),
  });
  expect(result.stderr).toBe('');
  const nobody = readFileSync('/etc/passwd', 'latin1').match(new RegExp(`^([^:\\n]+):[^:\\n]*:${NOBODY}:`, 'm'))?.[1];
  expect(JSON.parse(result.stdout).hooks.predeliver[0].output).toBe(`USER=${nobody}\n`);
});

describe('table management through the binary', () => {
  test('add, set, show, remove', () => {
    const t = freshHome();
    const env = adminEnv(t);
    const add = runAdmin(['add', '--home', t.home, 'New.User', '--forward', 'alice', '--msgsize', '5000'], { env });
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/^added new\.user \(mailbox \.\/users\/New:User/);
    expect(statSync(join(t.home, 'users', 'New:User', 'new')).isDirectory()).toBe(true);
    expect(runAdmin(['set', '--home', t.home, 'new.user', '--mailbox-enabled', 'no'], { env }).status).toBe(0);
    const shown = JSON.parse(runAdmin(['show', '--home', t.home, '--json', 'NEW.USER'], { env }).stdout);
    expect(shown).toMatchObject({ found: true, via: 'direct', msgsize: 5000, forwards: ['alice'], mailboxEnabled: false });
    // The delivery path reads what we wrote: disabled mailbox, forward to alice.
    const delivered = runVdeliver(t, homeEnv(t, 'New.User', 'sender@remote.example'), [], readFileSync(join(MESSAGES, 'plain.eml')));
    expect(delivered.status).toBe(0);
    expect(runAdmin(['remove', '--home', t.home, 'new.user'], { env }).status).toBe(0);
    expect(runAdmin(['show', '--home', t.home, '--json', 'new.user'], { env }).stdout).toContain('"via":"catch-all"');
    expect(runAdmin(['add', '--home', t.home, 'bad name'], { env }).stderr).toMatch(/^vdeliver-admin: the name 'bad name' contains a space/);
  });
});
