/**
 * The requirement probes behind needs(): where a tool is missing, the reason names it and the Debian
 * package that brings it, in one line; the answer does not depend on the test runner's own PATH tricks.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers/fixtures';

/** missing(name) for each name, asked in a fresh node whose PATH has none of the tools. */
function askWithoutTools(names: string[]): Array<string | null> {
  const script = `const { missing } = require(${JSON.stringify(join(ROOT, 'test', 'helpers', 'requirements.cjs'))});
process.stdout.write(JSON.stringify(${JSON.stringify(names)}.map((n) => missing(n) ?? null)));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

test('a missing tool is one line naming the package to install', () => {
  expect(askWithoutTools(['strace', 'cdb', 'man', 'openssl'])).toEqual([
    expect.stringMatching(/^strace cannot trace and inject here \(not installed; apt-get install strace\)$/),
    expect.stringMatching(/^tinycdb's cdb is not usable \(not installed; apt-get install tinycdb\)$/),
    expect.stringMatching(/^man -l cannot render a page \(not installed; apt-get install man-db\)$/),
    expect.stringMatching(/^openssl passwd -1 does not work \(not installed; apt-get install openssl\)$/),
  ]);
});

test('root, setpriv and mount are reported missing exactly when not running as root', () => {
  const [root, setpriv, mount] = askWithoutTools(['root', 'setpriv', 'mount']);
  if (process.getuid?.() === 0) {
    expect(root).toBeNull();
    // As root, without the tools on PATH: setpriv and mount cannot run.
    expect(setpriv).toMatch(/^setpriv cannot run a command as uid 65534 \(not installed; apt-get install util-linux\)$/);
    expect(mount).toMatch(/^cannot mount a tmpfs here \(not installed\)$/);
  } else {
    expect([root, setpriv, mount]).toEqual(['not running as root', expect.stringMatching(/^needs root/), expect.stringMatching(/^needs root/)]);
  }
});

test('an unknown requirement is a mistake in the test, not a skip', () => {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(ROOT, 'test', 'helpers', 'requirements.cjs'))}).missing('gpu')`], {
    encoding: 'utf8',
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('unknown requirement gpu');
});
