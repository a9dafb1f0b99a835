import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { installHook, makeHome, homeEnv, queueCalls, runVdeliver } from '../helpers/home';

const TRACER = join(ROOT, 'test', 'doubles', 'module-tracer.js');
const dir = scratchDir();
afterAll(() => dir.cleanup());

/** Run a built program under the module tracer and return every module it loaded. */
const traced = (program: string, args: string[], env: Record<string, string>, stdinPath: string): string[] =>
  tracedScript(join(ROOT, 'dist', program), env, stdinPath, args);

function tracedScript(script: string, env: Record<string, string>, stdinPath: string, args: string[] = []): string[] {
  const trace = join(dir.path, `trace-${Math.random()}`);
  // The message as a regular file, as qmail-local gives it (a pipe would be spooled through streams).
  const stdin = openSync(stdinPath, 'r');
  try {
    spawnSync('node', ['-r', TRACER, script, ...args], { env: { ...env, MODULE_TRACE: trace }, stdio: [stdin, 'pipe', 'pipe'], cwd: env.HOME });
  } finally {
    closeSync(stdin);
  }
  return readFileSync(trace, 'utf8').split('\n');
}

describe('what each program loads', () => {
  const t = makeHome(join(dir.path, 'home'));
  const message = join(ROOT, 'fixtures', 'vmailmgr', 'behaviour', 'messages', 'standard.eml');

  /** What a run loaded of Node's stream and child-process machinery, beyond an empty script's. */
  function streamModules(modules: string[], env: Record<string, string>): string[] {
    const empty = join(dir.path, 'empty.js');
    writeFileSync(empty, '');
    const baseline = new Set(tracedScript(empty, env, message));
    return modules.filter((m) => !baseline.has(m) && /^NativeModule (stream|internal\/streams\/|net$|tty$|child_process$|internal\/child_process)/.test(m));
  }

  test('a plain delivery loads neither mailparser nor the child-process bundle', () => {
    const env = homeEnv(t, 'alice', 'sender@remote.example');
    const modules = traced('vdeliver.cjs', [], env, message);
    expect(modules.some((m) => m.includes('mailparser'))).toBe(false);
    expect(modules.some((m) => m.endsWith('exec.cjs'))).toBe(false);
    expect(modules.some((m) => m.endsWith('as-user.cjs') || m.includes('execa'))).toBe(false);
    expect(modules.some((m) => m.includes('node_modules'))).toBe(false);
    expect(modules.some((m) => m.endsWith('vdeliver.cjs'))).toBe(true); // the tracer saw the program itself
    // No stream machinery beyond what Node loads for an empty script: the report goes out with
    // writeSync, fd 0 is looked at with fstat.
    expect(streamModules(modules, env)).toEqual([]);
    // node:os costs a quarter of a millisecond: the host name comes from /proc, errno names only on an error.
    expect(modules.filter((m) => m === 'NativeModule os')).toEqual([]);
    expect(runVdeliver(t, env, [], readFileSync(message)).status).toBe(0);
  });

  test('a logged delivery loads exactly what a plain one loads', () => {
    const logged = makeHome(join(dir.path, 'logged'));
    writeFileSync(join(logged.home, '.vmailmgr', 'vdeliver-log'), 'deliveries.log\n');
    const modules = (h: typeof t): string[] =>
      traced('vdeliver.cjs', [], homeEnv(h, 'alice', 'sender@remote.example'), message)
        .filter(Boolean)
        .sort();
    expect(modules(logged)).toEqual(modules(t));
    expect(readFileSync(join(logged.home, 'deliveries.log'), 'utf8')).toMatch(/^\{"time":.*"outcome":"delivered".*\}\n$/);
  });

  test('a hooked delivery and small forwards run their children without the stream or child-process modules', () => {
    const h = makeHome(join(dir.path, 'hooked'));
    installHook(h, 'local', 'vdeliver-predeliver', 'pre', 0);
    installHook(h, 'global', 'vdeliver-postdeliver', 'post', 0);
    for (const [home, ext] of [
      [h, 'alice'],
      [t, 'bob'],
    ] as const) {
      const env = homeEnv(home, ext, 'sender@remote.example');
      const modules = traced('vdeliver.cjs', [], env, message);
      expect(modules.some((m) => m.endsWith('exec.cjs'))).toBe(false);
      expect(streamModules(modules, env)).toEqual([]);
      expect(modules.filter((m) => m === 'NativeModule os')).toEqual([]); // $TMPDIR comes from the child's environment
    }
    expect(readFileSync(join(h.hookDir, 'order'), 'utf8')).toBe('pre\npost\n');
    expect(queueCalls(t).length).toBeGreaterThan(0);
  });

  test('forwarding a message over 64 KiB streams it through the child-process bundle, still no mailparser', () => {
    const big = join(dir.path, 'big.eml');
    writeFileSync(big, Buffer.concat([readFileSync(message), Buffer.alloc(80 * 1024, 'x\n')]));
    const env = homeEnv(t, 'bob', 'sender@remote.example');
    const modules = tracedScript(join(ROOT, 'dist', 'vdeliver.cjs'), env, big);
    expect(modules.some((m) => m.endsWith('exec.cjs'))).toBe(true);
    expect(modules.some((m) => m.includes('mailparser'))).toBe(false);
    expect(modules.some((m) => m.endsWith('as-user.cjs') || m.includes('execa'))).toBe(false);
  });

  test.each([['show', 'alice'], ['list']])('vdeliver-admin %s does not load mailparser', (...args) => {
    const modules = traced('vdeliver-admin.cjs', [...args, '--home', t.home], { PATH: process.env.PATH ?? '', HOME: t.home }, message);
    expect(modules.some((m) => m.includes('mailparser'))).toBe(false);
    // execa is for running as the base user: a command run by that user (or on a root-owned home) does not load it.
    expect(modules.some((m) => m.endsWith('as-user.cjs') || m.includes('execa'))).toBe(false);
    expect(modules.some((m) => m.endsWith('vdeliver-admin.cjs'))).toBe(true);
  });
});
