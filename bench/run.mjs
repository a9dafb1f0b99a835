// npm run bench: vdeliver against the floors, in one run, in a clean environment (env -i plus
// qmail-local's variables: NODE_EXTRA_CA_CERTS alone triples Node's start-up and qmail never sets it).
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 300);
const sandbox = mkdtempSync(join(tmpdir(), 'vdeliver-bench-'));
const home = join(sandbox, 'home');
const maildir = join(home, 'users', 'alice');
for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(maildir, sub), { recursive: true });
mkdirSync(join(sandbox, 'etc'));
copyFileSync(join(root, 'fixtures', 'vmailmgr', 'basic', 'passwd.cdb'), join(home, 'passwd.cdb'));
const message = join(sandbox, 'message-4k');
writeFileSync(message, Buffer.concat([Buffer.from('From: a@b.example\nSubject: bench\n\n'), Buffer.alloc(4096 - 34, 'x')]));

const env = {
  PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, USER: 'vdomain', LOCAL: 'vdomain-alice', EXT: 'alice', HOST: 'example.com',
  RECIPIENT: 'vdomain-alice@example.com', SENDER: 'a@b.example', NEWSENDER: 'a@b.example', DEFAULT: 'alice',
  DTLINE: 'Delivered-To: vdomain-alice@example.com\n', RPLINE: 'Return-Path: <a@b.example>\n', UFLINE: 'From a@b.example Sun Nov 22 03:25:00 2026\n',
  EXT2: '', EXT3: '', EXT4: '', HOST2: 'example', HOST3: 'example', HOST4: 'example', VDELIVER_CONFIG_DIR: join(sandbox, 'etc'),
};

function time(command, args) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const stdin = openSync(message, 'r');
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { env, cwd: home, stdio: [stdin, 'ignore', 'inherit'] });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    closeSync(stdin);
    if (result.status !== 0) throw new Error(`${command} exited ${result.status}`);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(runs / 2)], p95: samples[Math.floor(runs * 0.95)] };
}

function delivered() {
  const files = readdirSync(join(maildir, 'new'));
  const expected = readFileSync(message);
  for (const f of files) {
    const bytes = readFileSync(join(maildir, 'new', f));
    if (!bytes.subarray(bytes.length - expected.length).equals(expected)) throw new Error(`${f} is not the message`);
    rmSync(join(maildir, 'new', f));
  }
  if (readdirSync(join(maildir, 'tmp')).length !== 0) throw new Error('tmp/ is not empty');
  return files.length;
}

const rows = [];
rows.push(['/bin/true', time('/bin/true', [])]);
rows.push(['node -e 0', time(process.execPath, ['-e', '0'])]);
const floor = time(process.execPath, [join(root, 'bench', 'node-floor.cjs'), maildir]);
if (delivered() !== runs) throw new Error('the floor writer lost messages');
rows.push(['Node floor (Maildir writer)', floor]);
const ours = time(join(root, 'bin', 'vdeliver'), []);
if (delivered() !== runs) throw new Error('vdeliver lost messages');
rows.push(['bin/vdeliver', ours]);

console.log(`${runs} sequential deliveries of a 4 KiB message (ms)\n`);
console.log('what'.padEnd(30), 'median'.padStart(8), 'p95'.padStart(8), 'per s'.padStart(8), 'x floor'.padStart(8));
for (const [what, t] of rows) {
  console.log(what.padEnd(30), t.median.toFixed(1).padStart(8), t.p95.toFixed(1).padStart(8), (1000 / t.median).toFixed(0).padStart(8), (t.median / floor.median).toFixed(2).padStart(8));
}
rmSync(sandbox, { recursive: true, force: true });
