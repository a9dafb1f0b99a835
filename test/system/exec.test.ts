import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/system/exec';
import { scratchDir, shellScript } from '../helpers/fixtures';

const dir = scratchDir('vdeliver-exec-');
afterAll(() => dir.cleanup());

const script = (name: string, body: string): string => shellScript(dir.path, name, body);

const env = { PATH: '/usr/bin:/bin' };

test('a read error in our input kills the child before it sees end of input', async () => {
  const out = join(dir.path, 'received');
  const child = script('sink', `cat > '${out}.part' && mv '${out}.part' '${out}'`);
  function* failing(): Generator<Uint8Array> {
    yield Buffer.from('first block\n');
    throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  }
  const result = await run(child, { env, cwd: dir.path, stdin: failing() });
  expect(result.sourceError).toBe('EIO');
  expect(result.exitCode).toBeUndefined();
  expect(existsSync(out)).toBe(false); // cat never saw EOF, so nothing was "queued"
});

test('a child that stops reading is noticed', async () => {
  const child = script('short-read', 'head -c 10 > /dev/null; exit 0');
  const result = await run(child, { env, cwd: dir.path, stdin: [Buffer.alloc(4 << 20, 'x')] });
  expect(result.exitCode).toBe(0);
  expect(result.inputFailed).toBe(true);
});

test('a timeout kills the whole process group, grandchildren included', async () => {
  const marker = join(dir.path, 'grandchild-survived');
  const child = script('hang', `(sleep 2; touch '${marker}') & sleep 30`);
  const started = Date.now();
  const result = await run(child, { env, cwd: dir.path, stdin: [], timeoutMs: 300, captureOutput: true });
  expect(result.timedOut).toBe(true);
  expect(Date.now() - started).toBeLessThan(5000);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(existsSync(marker)).toBe(false);
});

test('output can be captured, fd 6 is an error channel, and a missing program is a start error', async () => {
  const child = script('talk', 'echo out; echo err >&2; printf "Dno thanks" >&6; exit 82');
  const result = await run(child, { env, cwd: dir.path, stdin: [], captureOutput: true, errorChannel: true });
  expect(result).toMatchObject({ exitCode: 82, errorChannel: 'Dno thanks', timedOut: false });
  expect(result.output?.split('\n').sort()).toEqual(['', 'err', 'out']);
  expect((await run(join(dir.path, 'missing'), { env, cwd: dir.path, stdin: [] })).startError).toBe('ENOENT');
  expect(readFileSync(child, 'utf8')).toContain('exit 82');
});

test('a child that exits 0 before its timeout is not "timed out" because a background process holds its output', async () => {
  // The child exits at once; what it left behind keeps stderr open for the 100 ms grace, past the
  // 80 ms timeout. The timeout must not count: the child had exited (qmail-queue: it had queued).
  const child = script('exits-then-lingers', '(sleep 2) & exit 0');
  const result = await run(child, { env, cwd: dir.path, stdin: [], timeoutMs: 80 });
  expect(result).toMatchObject({ exitCode: 0, timedOut: false });
});

test('errors spawn() throws instead of emitting (ENOTDIR) and a missing working directory are start errors', async () => {
  expect((await run('/etc/passwd/x', { env, cwd: dir.path, stdin: [] })).startError).toBe('ENOTDIR');
  const missing = join(dir.path, 'no-such-dir');
  expect((await run('/bin/true', { env, cwd: missing, stdin: [] })).startError).toBe(`ENOENT (no working directory ${missing})`);
});
