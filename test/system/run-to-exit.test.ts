/**
 * The cheap way to run hooks and small forwards: a child started and waited for with a file on
 * each descriptor, through Node's spawnSync binding or, where that is missing, spawnSync itself.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { anonymousFile, readToEnd, scratchDir as tmpdirOf, writeAll } from '../../src/system/files';
import { runToExit } from '../../src/system/run-to-exit';
import { publicSpawnSync, spawnToExit } from '../../src/system/spawn-to-exit';
import { scratchDir, shellScript } from '../helpers/fixtures';

const dir = scratchDir('vdeliver-run-to-exit-');
afterAll(() => dir.cleanup());
const scratch = join(dir.path, 'scratch');
mkdirSync(scratch);

const script = (name: string, body: string): string => shellScript(dir.path, name, body);

const env = { PATH: '/usr/bin:/bin' };
const devNull = (): number => openSync('/dev/null', 'r');

function withStdin<T>(use: (fd: number) => T): T {
  const fd = devNull();
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

test('output is captured in order from fd 1 and 2, fd 6 is an error channel, and no file is left in $TMPDIR', () => {
  const child = script('talk', 'echo out; echo err >&2; echo out2; printf "Dno thanks" >&6; exit 82');
  const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, captureOutput: true, errorChannel: true, scratch }));
  expect(result).toEqual({ exitCode: 82, signal: undefined, timedOut: false, inputFailed: false, errorChannel: 'Dno thanks', output: 'out\nerr\nout2\n' });
  expect(readdirSync(scratch)).toEqual([]);
});

test('the child reads its stdin file from the descriptor offset, and the envelope file as its fd 1', () => {
  const message = anonymousFile(scratch);
  const envelope = anonymousFile(scratch);
  writeAll(message, Buffer.from('the message\n'), 0);
  writeAll(envelope, Buffer.from('Fa@b\0Tc@d\0\0'), 0);
  const child = script('queue', 'exec 3<&1; cat >&2; od -c <&3 | head -1 >&2; exit 0');
  const result = runToExit(child, { stdin: message, envelope, env, cwd: dir.path, captureOutput: true, scratch });
  expect(result?.output).toMatch(/^the message\n0000000 +F +a +@ +b +\\0 +T/);
  expect([readToEnd(message), readToEnd(envelope)]).toEqual([true, true]);
  closeSync(message);
  closeSync(envelope);
});

test('a child that leaves its input unread is seen by its offset', () => {
  const message = anonymousFile(scratch);
  writeAll(message, Buffer.alloc(100_000, 'x'), 0);
  const child = script('short', 'head -c 10 >/dev/null; exit 0');
  expect(runToExit(child, { stdin: message, env, cwd: dir.path, scratch })?.exitCode).toBe(0);
  expect(readToEnd(message)).toBe(false);
  closeSync(message);
});

test('a timeout kills the whole process group, grandchildren included', () => {
  const marker = join(dir.path, 'grandchild-survived');
  const child = script('hang', `(sleep 2; touch '${marker}') & sleep 30`);
  const started = Date.now();
  const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, timeoutMs: 300, captureOutput: true, scratch }));
  expect(result).toMatchObject({ timedOut: true, exitCode: undefined, signal: 'SIGKILL' });
  expect(Date.now() - started).toBeLessThan(5000);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
  expect(existsSync(marker)).toBe(false);
});

test('a background process that keeps the output open keeps nobody waiting, and a quick exit is not a timeout', () => {
  const child = script('exits-then-lingers', 'echo said; (sleep 3; echo late) & exit 0');
  const started = Date.now();
  const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, timeoutMs: 2000, captureOutput: true, scratch }));
  expect(Date.now() - started).toBeLessThan(1500);
  expect(result).toMatchObject({ exitCode: 0, timedOut: false, output: 'said\n' });
});

test('a background process that writes on and on after the child exits does not keep us reading', () => {
  const pidFile = join(dir.path, 'writer.pid');
  const child = script('leaves-a-writer', `echo said; yes & echo $! > '${pidFile}'; sleep 0.05; exit 0`);
  const started = Date.now();
  try {
    const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, timeoutMs: 5000, captureOutput: true, scratch }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result?.output?.startsWith('said\n')).toBe(true);
  } finally {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  }
});

test('start errors name the errno, and a missing working directory says so', () => {
  withStdin((stdin) => {
    const run = (path: string, cwd = dir.path) => runToExit(path, { stdin, env, cwd, scratch })?.startError;
    expect(run(join(dir.path, 'missing'))).toBe('ENOENT');
    expect(run('/etc/passwd/x')).toBe('ENOTDIR');
    writeFileSync(join(dir.path, 'not-executable'), '#!/bin/sh\n');
    expect(run(join(dir.path, 'not-executable'))).toBe('EACCES');
    const missing = join(dir.path, 'no-such-dir');
    expect(run('/bin/true', missing)).toBe(`ENOENT (no working directory ${missing})`);
  });
});

test('8-bit bytes in the path, the working directory and the environment reach the child exactly', () => {
  const latin1 = Buffer.from([0x6a, 0xf6, 0x72, 0x67]).toString('latin1'); // "jörg" in Latin-1
  const home = join(dir.path, latin1);
  mkdirSync(Buffer.from(home, 'latin1'));
  const program = join(home, 'hook');
  writeFileSync(
    Buffer.from(program, 'latin1'),
    '#!/bin/sh\nprintf %s "$(pwd)" | od -An -tx1 | tr -d " \\n"; echo; printf %s "$NAME" | od -An -tx1 | tr -d " \\n"\n',
  );
  chmodSync(Buffer.from(program, 'latin1'), 0o755);
  const result = withStdin((stdin) => runToExit(program, { stdin, env: { ...env, NAME: latin1 }, cwd: home, captureOutput: true, scratch }));
  expect(result?.output).toBe(`${Buffer.from(home, 'latin1').toString('hex')}\n6af67267`);
});

test('no output file, no run: undefined, so the caller can stream instead', () => {
  withStdin((stdin) => expect(runToExit('/bin/true', { stdin, env, cwd: dir.path, scratch: join(dir.path, 'no-such-scratch') })).toBeUndefined());
});

describe.each([
  ['the spawnSync binding', undefined],
  ['node:child_process spawnSync', publicSpawnSync],
])('spawnToExit through %s', (_name, spawn) => {
  const spawnWith = (file: string, timeoutMs?: number) =>
    withStdin((stdin) => spawnToExit({ file, args: [], env, cwd: dir.path, stdio: [stdin, 'ignore', 'ignore'], timeoutMs }, spawn));

  test('exit codes, signals, timeouts and start errors', () => {
    expect(spawnWith(script('seven', 'exit 7'))).toEqual({ exitCode: 7, signal: undefined, timedOut: false });
    expect(spawnWith(script('self-kill', 'kill -TERM $$'))).toEqual({ exitCode: undefined, signal: 'SIGTERM', timedOut: false });
    expect(spawnWith(script('slow', 'sleep 5'), 200)).toEqual({ exitCode: undefined, signal: 'SIGKILL', timedOut: true });
    expect(spawnWith(join(dir.path, 'absent'))).toEqual({ timedOut: false, startErrno: 2 });
  });
});

test('a child that opens /dev/stderr again (echo >>/dev/stderr) appends: its output stays whole and in order', () => {
  const child = script('reopens', 'echo first; echo middle >>/dev/stderr; echo last; echo end >>/dev/stdout');
  const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, captureOutput: true, scratch }));
  expect(result?.output).toBe('first\nmiddle\nlast\nend\n');
});

test('a child that truncates its output (echo >/dev/stderr) leaves no hole: what follows is appended, no NUL byte is passed on', () => {
  const child = script('truncates', 'echo "first line"; echo warning >/dev/stderr; echo last');
  const result = withStdin((stdin) => runToExit(child, { stdin, env, cwd: dir.path, captureOutput: true, scratch }));
  expect(result?.output).toBe('warning\nlast\n');
});

test.each([
  [{ TMPDIR: '/var/spool/x/' }, '/var/spool/x'],
  [{ TMP: '/tmp2' }, '/tmp2'],
  [{ TEMP: '/tmp3', TMPDIR: '' }, '/tmp3'],
  [{}, '/tmp'],
  [{ TMPDIR: '/' }, '/'],
])('the scratch directory for %j is %p, as os.tmpdir() reads the same variables', (env, dir) => {
  expect(tmpdirOf(env)).toBe(dir);
});
