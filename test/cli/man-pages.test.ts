/**
 * The man pages, built from man/*.md by marked-man (scripts/build.mjs), as `man -l` shows them to a
 * reader: the NAME line, every option and command the programs take, and the package's version.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { USAGE } from '../../src/delivery/command-line';
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
  // man hyphenates a long word at a line's end even this wide (--re‐\n calculate): join it again.
  return result.stdout.replace(/\u2010\n +/g, '');
}

/** Every `-x` and `--long-option` a help text lists at the start of a line. */
const optionsIn = (help: string): string[] => [...help.matchAll(/^ {2,}((?:-\w|--[\w-]+)(?:, (?:-\w|--[\w-]+))*)/gm)].flatMap((m) => m[1].split(', '));

/** Every long option named anywhere in a text (a help text, a rendered page), without repeats. */
const longOptionsIn = (text: string): string[] => [...new Set([...text.matchAll(/(?<![\w-])--[a-z][\w-]*/g)].map((m) => m[0]))];

/** Whether `option` appears in `text` as a whole option (`--password` not inside `--password-hash`). */
const mentions = (text: string, option: string): boolean => new RegExp(`(?<![\\w-])${option}(?![\\w-])`).test(text);

/** The lines of a rendered section, from its heading to the next one. */
const section = (text: string, heading: string): string => text.split(new RegExp(`^${heading}$`, 'm'))[1]?.split(/^[A-Z][A-Z ]+$/m)[0] ?? '';

/** The rendered list item of `term` in `text`, up to the next item or section. */
const item = (text: string, term: string): string => text.split(new RegExp(`^ +• ${term}\\b`, 'm'))[1]?.split(/^ +• |^[A-Z][A-Z ]+$/m)[0] ?? '';

/** Whether `option` is one of the terms of a list item (`• -h, --help: ...`). */
const listed = (text: string, option: string): boolean => new RegExp(`^ +• (?:\\S+, )*${option}(?:[:,]| <)`, 'm').test(text);

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
  for (const option of longOptionsIn(text)) expect([option, options.includes(option)]).toEqual([option, true]);
  for (const code of ['0', '99', '100', '111']) expect(text).toMatch(new RegExp(`^ +• ${code}: `, 'm'));
  for (const section of ['SYNOPSIS', 'OPTIONS', 'EXIT STATUS', 'ENVIRONMENT', 'CONFIGURATION', 'HOOKS', 'FILES', 'EXAMPLES'])
    expect(text).toMatch(new RegExp(`^${section}$`, 'm'));
  expect(text).toMatch(new RegExp(`^${pkg.version.replace(/\./g, '\\.')} .* VDELIVER\\(8\\)$`, 'm'));
});

needs('man')(
  'vdeliver-admin(8) renders its NAME, every command of vdeliver-admin --help, and every option of each command where that command is described',
  () => {
    const text = render(pkg.man[1]);
    expect(text).toMatch(/^NAME\n {7}vdeliver-admin - manage the virtual users of a vdeliver or vmailmgr domain$/m);
    const usage = runAdmin(['--help']).stdout;
    const commands = [...usage.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
    expect(commands).toEqual(['setup', 'show', 'list', 'build', 'dump', 'add', 'set', 'remove', 'doctor', 'quota', 'test', 'log']);
    // The options every command takes are under OPTIONS; each command's own, in its item or (add, set) their section.
    const common = ['--home', '--user', '--help', '--version'];
    expect(longOptionsIn(usage)).toEqual(expect.arrayContaining(common));
    for (const option of [...common, '-h']) expect([option, listed(section(text, 'OPTIONS'), option)]).toEqual([option, true]);
    const helps = commands.map((command) => runAdmin([command, '--help']).stdout);
    commands.forEach((command, i) => {
      expect(helps[i]).toMatch(new RegExp(`^usage: vdeliver-admin ${command} \\[--home DIR \\| --user NAME\\]`));
      const where = item(text, command) + (['add', 'set'].includes(command) ? section(text, 'OPTIONS OF ADD AND SET') : '');
      for (const option of longOptionsIn(helps[i]).filter((o) => !common.includes(o)))
        expect([command, option, mentions(where, option)]).toEqual([command, option, true]);
    });
    // And the page names no option that the program does not have.
    const known = new Set(longOptionsIn([usage, ...helps].join('\n')));
    for (const option of longOptionsIn(text)) expect([option, known.has(option)]).toEqual([option, true]);
    expect(text).toMatch(new RegExp(`^${pkg.version.replace(/\./g, '\\.')} .* VDELIVER-ADMIN\\(8\\)$`, 'm'));
  },
);
