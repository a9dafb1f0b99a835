/**
 * `npm run demo`: a throwaway base-user home built from examples/, and a few messages delivered
 * by the real bin/vdeliver exactly as qmail-local would run it (`/bin/sh -c`, cwd $HOME,
 * umask 077, the message as a regular file on stdin, qmail-local's environment). Forwards go to
 * a recording qmail-queue through QMAILQUEUE. Nothing outside the sandbox is touched.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { qmailLocalEnv } from '../src/qmail/qmail-local-env';

const root = join(__dirname, '..');
const examples = join(root, 'examples');
const sandbox = mkdtempSync(join(tmpdir(), 'vdeliver-demo-'));
const home = join(sandbox, 'home');
const qmail = join(sandbox, 'qmail');
const queued = join(sandbox, 'queued');

function setUp(): void {
  cpSync(join(examples, 'home'), home, { recursive: true });
  mkdirSync(join(qmail, 'control'), { recursive: true });
  mkdirSync(queued);
  mkdirSync(join(sandbox, 'etc'));
  writeFileSync(join(qmail, 'control', 'me'), 'mail.example.net\n');
  writeFileSync(join(home, '.vmailmgr', 'qmail-root'), `${qmail}\n`);
  // The fastest program line: this node and this checkout's loader, by their absolute paths.
  writeFileSync(join(home, '.qmail-default'), `|${process.execPath} ${join(root, 'dist', 'vdeliver.cjs')}\n`);
  const build = spawnSync(join(root, 'bin', 'vdeliver-admin'), ['build', '--home', home, join(examples, 'users.tsv')], { encoding: 'utf8' });
  process.stdout.write(`$ vdeliver-admin build --home ${home} examples/users.tsv\n${build.stdout}${build.stderr}`);
  for (const line of readFileSync(join(examples, 'users.tsv'), 'utf8').split('\n').slice(1)) {
    const [, , directory, , hasMailbox] = line.split('\t');
    if (directory && hasMailbox === '1') for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(home, directory, sub), { recursive: true });
  }
}

function deliver(address: string, message: Buffer, note: string): void {
  const [ext, host] = [address.slice(0, address.lastIndexOf('@')), address.slice(address.lastIndexOf('@') + 1)];
  const before = new Set(listMaildirs());
  const calls = readdirSync(queued).length;
  const messagePath = join(sandbox, 'message');
  writeFileSync(messagePath, message);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...qmailLocalEnv({ user: 'vdomain', home, ext, host, sender: 'sender@remote.example' }),
    QMAILQUEUE: join(root, 'test', 'doubles', 'qmail-queue-recorder'),
    QQ_RECORD_DIR: queued,
    VDELIVER_CONFIG_DIR: join(sandbox, 'etc'),
  };
  const stdin = openSync(messagePath, 'r');
  const run = spawnSync('/bin/sh', ['-c', `umask 077; exec /bin/sh -c "$0" 2>&1`, join(root, 'bin', 'vdeliver')], {
    cwd: home,
    env,
    stdio: [stdin, 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  closeSync(stdin);
  process.stdout.write(`\n── ${address}  (${note})\n   exit ${run.status} (${meaning(run.status)})\n`);
  for (const line of run.stdout.split('\n').filter(Boolean)) process.stdout.write(`   output: ${line}\n`);
  for (const file of listMaildirs().filter((f) => !before.has(f))) {
    const text = readFileSync(join(home, file), 'utf8');
    process.stdout.write(`   stored: ${file}\n           ${text.split('\n').slice(0, 2).join('\n           ')}\n`);
  }
  for (const call of readdirSync(queued)
    .filter((f) => f.endsWith('.envelope'))
    .sort()
    .slice(calls / 3)) {
    const envelope = readFileSync(join(queued, call)).toString('latin1').replace(/\0/g, '\\0');
    process.stdout.write(`   queued: envelope ${envelope}\n`);
  }
}

const meaning = (code: number | null): string =>
  code === 0 ? 'delivered' : code === 99 ? 'delivered, stop' : code === 100 ? 'bounce' : code === 111 ? 'deferred, qmail retries' : 'unexpected';

function listMaildirs(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (/\/(new|tmp|cur)$/.test(dir)) files.push(relative(home, join(dir, entry.name)));
    }
  };
  walk(join(home, 'users'));
  return files;
}

setUp();
const hello = readFileSync(join(examples, 'messages', 'hello.eml'));
deliver('alice@example.com', hello, 'a mailbox user');
deliver('bob@example.com', hello, 'a mailbox plus two forwards, in one qmail-queue run');
deliver('info@example.com', hello, 'an alias: forwards only');
deliver('nobody-here@example.com', hello, 'unknown: the + catch-all forwards to alice');
deliver('olduser@example.com', hello, 'an expired account');
deliver(
  'Alice@Example.COM',
  Buffer.concat([hello, Buffer.alloc(30000, 'x\n')]),
  "over alice's 20000-byte message-size limit: vdeliver's quota check refuses it",
);
deliver('carol@example.com', hello, 'carol may hold one message');
deliver('carol@example.com', hello, 'a second one is over her message count');
deliver('bob@example.com', Buffer.concat([Buffer.from('X-Spam-Flag: YES\n'), hello]), 'marked as spam: the example predeliver hook refuses it');

// The same pipeline, explained step by step and changing nothing: what admins use to test a setup.
process.stdout.write(`\n$ vdeliver-admin test --dry-run --to bob@example.com fixtures/messages/attachment-binary.eml\n`);
const explained = spawnSync(
  join(root, 'bin', 'vdeliver-admin'),
  [
    'test',
    '--home',
    home,
    '--dry-run',
    '--to',
    'bob@example.com',
    '--from',
    'sender@remote.example',
    join(root, 'fixtures', 'messages', 'attachment-binary.eml'),
  ],
  {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      USER: 'vdomain',
      VDELIVER_CONFIG_DIR: join(sandbox, 'etc'),
      QMAILQUEUE: join(root, 'test', 'doubles', 'qmail-queue-recorder'),
    },
  },
);
process.stdout.write(explained.stdout + explained.stderr);

// Every delivery above was logged (examples/home/.vmailmgr/vdeliver-log): where did each message go?
for (const args of [['log'], ['log', '--stats']]) {
  const shown = spawnSync(join(root, 'bin', 'vdeliver-admin'), args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, VDELIVER_CONFIG_DIR: join(sandbox, 'etc') },
  });
  process.stdout.write(`\n$ vdeliver-admin ${args.join(' ')}\n${shown.stdout}${shown.stderr}`);
}
process.stdout.write(`\nThe sandbox stays for you to look at: ${sandbox}\n`);
