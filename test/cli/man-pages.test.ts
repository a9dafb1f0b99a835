/**
 * The man pages, built from man/*.md by marked-man (scripts/build.mjs), as `man -l` shows them to a
 * reader: the NAME line, every option and command the programs take, and the package's version.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { USAGE } from '../../src/delivery/command-line';
import { EDIT_HELP } from '../../src/admin/edit-help';
import { ROOT } from '../helpers/fixtures';
import { needs } from '../helpers/requires';
import { runAdmin } from '../helpers/run';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The page as man-db renders it, wide enough that no option is hyphenated across lines. */
function render(page: string): string {
  const result = spawnSync('man', ['-l', join(ROOT, page)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '250', LANG: 'C.UTF-8' },
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

/** Every `-x` and `--long-option` a help text lists at the start of a line. */
const optionsIn = (help: string): string[] => [...help.matchAll(/^ {2,}((?:-\w|--[\w-]+)(?:, (?:-\w|--[\w-]+))*)/gm)].flatMap((m) => m[1].split(', '));

/** Whether `option` is one of the terms of a list item (`• -h, --help: ...`). */
const listed = (text: string, option: string): boolean => new RegExp(`^ +• (?:\\S+, )*${option}[:,]`, 'm').test(text);

test('package.json installs exactly the two pages the build makes', () => {
  expect(pkg.man).toEqual(['./dist/man/vdeliver.8', './dist/man/vdeliver-admin.8']);
});

needs('man')('vdeliver(8) renders its NAME, every option of vdeliver --help, the exit codes and the version', () => {
  const text = render(pkg.man[0]);
  expect(text).toMatch(/^VDELIVER\(8\) +System Manager's Manual +VDELIVER\(8\)$/m);
  expect(text).toMatch(/^NAME\n {7}vdeliver - deliver mail to vmailmgr virtual users under qmail$/m);
  const options = optionsIn(USAGE);
  expect(options).toEqual(expect.arrayContaining(['-D', '-d', '--no-predeliver', '--quiet', '-h', '--help', '--version']));
  for (const option of options) expect([option, listed(text, option)]).toEqual([option, true]);
  for (const code of ['0', '99', '100', '111']) expect(text).toMatch(new RegExp(`^ +• ${code}: `, 'm'));
  for (const section of ['SYNOPSIS', 'OPTIONS', 'EXIT STATUS', 'ENVIRONMENT', 'CONFIGURATION', 'HOOKS', 'FILES', 'EXAMPLES'])
    expect(text).toMatch(new RegExp(`^${section}$`, 'm'));
  expect(text).toMatch(new RegExp(`^${pkg.version.replace(/\./g, '\\.')} .* VDELIVER\\(8\\)$`, 'm'));
});

needs('man')('vdeliver-admin(8) renders its NAME, every command of vdeliver-admin --help and every option of add and set', () => {
  const text = render(pkg.man[1]);
  expect(text).toMatch(/^NAME\n {7}vdeliver-admin - manage the virtual users of a vdeliver or vmailmgr domain$/m);
  const usage = runAdmin(['--help']).stdout;
  const commands = [...usage.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
  expect(commands).toEqual(expect.arrayContaining(['setup', 'show', 'build', 'add', 'doctor', 'test']));
  for (const command of commands) expect([command, new RegExp(`^ +• ${command}\\b`, 'm').test(text)]).toEqual([command, true]);
  for (const option of new Set([...optionsIn(EDIT_HELP.add), ...optionsIn(EDIT_HELP.set)])) expect([option, text.includes(option)]).toEqual([option, true]);
  expect(text).toMatch(new RegExp(`^${pkg.version.replace(/\./g, '\\.')} .* VDELIVER-ADMIN\\(8\\)$`, 'm'));
});
