/**
 * "Done means" for the npm package: `npm pack` in this checkout, `npm install -g` of the tarball
 * into a temporary prefix, then the installed programs set up a fresh base user's home, add a
 * user, and the installed vdeliver delivers a message the way qmail-local runs it. npm fetches
 * mailparser (the one runtime dependency) from its cache where it can (--prefer-offline).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from './helpers/fixtures';
import { needs } from './helpers/requires';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const dir = scratchDir('vdeliver-package-');
afterAll(() => dir.cleanup());

const prefix = join(dir.path, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', 'vdeliver');
const bin = (name: string): string => join(prefix, 'bin', name);
const npmEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? dir.path,
  ...(process.env.npm_config_cache ? { npm_config_cache: process.env.npm_config_cache } : {}),
};

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: npmEnv, encoding: 'utf8', timeout: 240_000 });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${result.status}): ${result.stderr}`);
  return result;
}

/** A program of the installed package, with nothing of this checkout on its PATH. */
const run = (name: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> =>
  spawnSync(bin(name), args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });

let tarball = '';
beforeAll(() => {
  // `npm pack` runs prepack, which builds dist/ (bundles, code cache, man pages) first.
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir.path], ROOT).stdout);
  tarball = join(dir.path, packed[0].filename);
  npm(['install', '--global', '--prefix', prefix, '--prefer-offline', tarball], dir.path);
}, 300_000);

test('the tarball holds the built programs, the man pages, README and COPYING, and nothing else', () => {
  const listed = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
  const bundle = readdirSync(join(installed, 'dist')).find((f) => /^vdeliver-main\.[0-9a-f]{16}\.cjs$/.test(f));
  expect(listed).toEqual(
    [
      'COPYING',
      'README.md',
      'bin/vdeliver',
      'bin/vdeliver-admin',
      'dist/as-user.cjs',
      'dist/exec.cjs',
      'dist/man/vdeliver-admin.8',
      'dist/man/vdeliver.8',
      `dist/${bundle}`,
      `dist/${bundle}.cache`,
      'dist/vdeliver-admin.cjs',
      'dist/vdeliver.cjs',
      'package.json',
    ]
      .map((f) => `package/${f}`)
      .sort(),
  );
  expect(readFileSync(join(installed, 'COPYING'), 'utf8')).toMatch(/^\s+GNU GENERAL PUBLIC LICENSE\n\s+Version 2, June 1991\n/);
});

test('only the runtime dependencies are installed, and the man pages go to share/man', () => {
  const modules = readdirSync(join(installed, 'node_modules'));
  expect(modules).toContain('mailparser');
  for (const dev of Object.keys(pkg.devDependencies)) expect(modules).not.toContain(dev.split('/')[0]);
  expect(modules.length).toBeLessThan(40);
  for (const page of ['vdeliver.8', 'vdeliver-admin.8']) expect(readFileSync(join(prefix, 'share', 'man', 'man8', page), 'utf8')).toMatch(/^\.TH "/);
});

test('both installed programs answer --version with the package version', () => {
  expect(run('vdeliver', ['--version'])).toMatchObject({ status: 0, stdout: `vdeliver ${pkg.version}\n`, stderr: '' });
  expect(run('vdeliver-admin', ['--version'])).toMatchObject({ status: 0, stdout: `vdeliver-admin ${pkg.version}\n`, stderr: '' });
});

test('setup and add with the installed vdeliver-admin, then a delivery as qmail-local runs the .qmail-default line', () => {
  const home = join(dir.path, 'home');
  mkdirSync(home, { mode: 0o755 });
  const env = { HOME: home, VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') };
  // A base user's home as vsetup would leave it; the program line names the installed loader.
  const setup = run('vdeliver-admin', ['setup', '--home', home], env);
  expect(setup.stderr).toBe('');
  expect(setup.status).toBe(0);
  const line = readFileSync(join(home, '.qmail-default'), 'utf8');
  expect(line).toBe(`|${process.execPath} ${join(installed, 'dist', 'vdeliver.cjs')}\n`);
  const add = run('vdeliver-admin', ['add', '--home', home, 'alice'], env);
  expect(add.stderr).toBe('');
  expect(add.stdout).toBe(`added alice (mailbox ./users/alice) to ${home}/passwd.cdb\n`);

  const message = 'From: bob@example.net\nTo: alice@example.com\nSubject: installed\n\nDelivered by the installed package.\n';
  writeFileSync(join(dir.path, 'message'), message);
  const fd = openSync(join(dir.path, 'message'), 'r');
  let delivery: SpawnSyncReturns<string>;
  try {
    // qmail-local: /bin/sh -c '<line>' in the home, umask 077, the message as a file on fd 0, and
    // qmail's PATH, where there may be no node at all (the line names it by its path).
    delivery = spawnSync('/bin/sh', ['-c', `umask 077; exec /bin/sh -c "$0" 2>&1`, line.slice(1).trimEnd()], {
      cwd: home,
      stdio: [fd, 'pipe', 'pipe'],
      encoding: 'utf8',
      env: {
        PATH: '/var/qmail/bin:/usr/local/bin:/usr/bin:/bin',
        HOME: home,
        USER: 'vdomain',
        VDELIVER_CONFIG_DIR: env.VDELIVER_CONFIG_DIR,
        EXT: 'alice',
        HOST: 'example.com',
        SENDER: 'bob@example.net',
        RECIPIENT: 'vdomain-alice@example.com',
        DTLINE: 'Delivered-To: vdomain-alice@example.com\n',
        RPLINE: 'Return-Path: <bob@example.net>\n',
        UFLINE: 'From bob@example.net Thu Jan  1 00:00:00 1970\n',
      },
    });
  } finally {
    closeSync(fd);
  }
  expect(delivery.stdout).toBe('');
  expect(delivery.status).toBe(0);
  const inbox = join(home, 'users', 'alice', 'new');
  const files = readdirSync(inbox);
  expect(files).toHaveLength(1);
  expect(readFileSync(join(inbox, files[0]), 'utf8')).toBe(`Return-Path: <bob@example.net>\nDelivered-To: vdomain-alice@example.com\n${message}`);

  // The one admin command that loads mailparser finds it among the installed runtime dependencies.
  const test = run('vdeliver-admin', ['test', '--home', home, '--dry-run', '--to', 'alice@example.com', join(dir.path, 'message')], env);
  expect(test.stderr).toBe('');
  expect(test.stdout).toMatch(/^ {2}message {3}100 bytes\n(?: {12}.*\n)* {12}Subject: installed\n/m);
  expect(test.status).toBe(0);
});

needs('root')('run as root, the installed vdeliver-admin sets up a home as its owner (it loads dist/as-user.cjs)', () => {
  // The base user (nobody here) must reach the installed package, as qmail-local's vdeliver must.
  chmodSync(dir.path, 0o755);
  const home = join(dir.path, 'owned-home');
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, 65534, 65534);
  const setup = run('vdeliver-admin', ['setup', '--home', home], { HOME: home, VDELIVER_CONFIG_DIR: join(dir.path, 'no-global') });
  expect(setup.stderr).toBe('');
  expect(setup.status).toBe(0);
  for (const file of ['.qmail-default', 'users', 'passwd.cdb']) expect([file, statSync(join(home, file)).uid]).toEqual([file, 65534]);
});

test('with its dist/ files gone, each installed program prints one line and exits 111', () => {
  const loader = join(installed, 'dist', 'vdeliver.cjs');
  const bundle = readdirSync(join(installed, 'dist')).find((f) => /^vdeliver-main\.[0-9a-f]{16}\.cjs$/.test(f))!;
  rmSync(join(installed, 'dist', bundle));
  const byLoader = spawnSync(process.execPath, [loader], { encoding: 'utf8', env: { RECIPIENT: 'vdomain-alice@example.com' } });
  expect(byLoader.stderr).toBe('');
  expect(byLoader.stdout).toBe(
    `vdeliver: cannot read the program ${join(installed, 'dist', bundle)} (ENOENT): dist/ is incomplete; reinstall or rebuild vdeliver (#4.3.0)\n`,
  );
  expect(byLoader.status).toBe(111);
  for (const name of ['vdeliver', 'vdeliver-admin']) {
    rmSync(join(installed, 'dist', `${name}.cjs`));
    const result = run(name, ['--version']);
    const shown = `${name}: ${join(installed, 'dist', `${name}.cjs`)} is missing: vdeliver is not built (run npm run build, or reinstall the package)`;
    expect(`${result.stdout}${result.stderr}`).toBe(name === 'vdeliver' ? `${shown} (#4.3.0)\n` : `${shown}\n`);
    expect(result.status).toBe(111);
  }
  expect(existsSync(join(installed, 'dist', 'vdeliver-admin.cjs'))).toBe(false);
});
