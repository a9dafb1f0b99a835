import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { makeHome, homeEnv, runVdeliver } from '../helpers/home';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const dir = scratchDir();
afterAll(() => dir.cleanup());

test('vdeliver --version and vdeliver-admin --version print the package version, exit 0', () => {
  for (const name of ['vdeliver', 'vdeliver-admin'])
    expect(spawnSync(join(ROOT, 'bin', name), ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH } })).toMatchObject({
      status: 0,
      stdout: `${name} ${version}\n`,
      stderr: '',
    });
});

test('--version under qmail-local is not a delivery: one line, 111, nothing stored', () => {
  const t = makeHome(join(dir.path, 'home'));
  const result = runVdeliver(t, homeEnv(t, 'alice', 'sender@remote.example'), ['--version'], 'Subject: x\n\nbody\n');
  expect(result).toEqual({ status: 111, output: 'vdeliver: --version given in a .qmail file; nothing was delivered (#4.3.5)\n' });
  expect(readdirSync(join(t.home, 'users', 'alice', 'new'))).toEqual([]);
});
