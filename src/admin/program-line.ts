import { accessSync, constants } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { fsPath, printable } from '../system/bytes';
import { parseArgs } from '../delivery/command-line';
import { type Check, fail, failure, ok, readBytes, stat, warn } from './checks';

/** The PATH qmail-local's children get (qmail-lspawn sets no other). */
export const QMAIL_PATH = '/var/qmail/bin:/usr/local/bin:/usr/bin:/bin';

const executable = (path: string): boolean => failure(() => accessSync(fsPath(path), constants.X_OK)) === undefined;
const readable = (path: string): boolean => failure(() => accessSync(fsPath(path), constants.R_OK)) === undefined;

/**
 * What `/bin/sh -c` will make of the `.qmail-default` program line: the program exists and can be
 * run, a script given to node exists, a `#!/usr/bin/env node` program finds node on qmail's PATH,
 * and the options are vdeliver's. The fastest line names node and dist/vdeliver.cjs directly.
 */
export function checkProgramLine(line: string, path = QMAIL_PATH): Check[] {
  // Simple words only: a line with quotes or shell syntax is left to the shell, and said so.
  if (/["'`$\\;&|<>(){}*?]/.test(line)) return [warn(`.qmail-default's program line uses shell syntax; doctor cannot follow it: ${printable(line)}`)];
  const [program, ...rest] = line.trim().split(/\s+/);
  if (!program) return [fail('.qmail-default has an empty program line', 'its line should be |/usr/bin/node /path/to/dist/vdeliver.cjs')];
  const found = isAbsolute(program)
    ? program
    : path
        .split(':')
        .map((dir) => join(dir, program))
        .find(executable);
  if (!found) return [fail(`${printable(program)} is not found on qmail's PATH (${path}): every delivery exits 127`, 'name the program by its absolute path')];
  if (!stat(found)?.isFile() || !executable(found))
    return [fail(`${printable(found)} is missing or not executable: every delivery exits 126 or 127`, `chmod a+rx ${printable(found)}`)];
  const checks: Check[] = [];
  let args = rest;
  if (basename(found) === 'node' || basename(found) === 'nodejs') {
    const [script, ...options] = rest;
    if (!script || !readable(script))
      return [
        fail(
          `node is given ${script ? `${printable(script)}, which cannot be read` : 'no script'}: every delivery defers`,
          'name dist/vdeliver.cjs by its absolute path',
        ),
      ];
    checks.push(ok(`.qmail-default runs ${printable(found)} ${printable(script)} (no PATH lookup, no shim: the fastest start)`));
    args = options;
  } else {
    const shebang = 'text' in readBytes(found) ? (readBytes(found) as { text: string }).text.split('\n')[0] : '';
    if (/^#!\s*\/usr\/bin\/env\s+node\b/.test(shebang)) {
      const node = path
        .split(':')
        .map((dir) => join(dir, 'node'))
        .find(executable);
      if (!node)
        return [
          fail(
            `${printable(found)} starts node through /usr/bin/env, and qmail's PATH (${path}) has no node: every delivery exits 127`,
            `use |$(command -v node) /path/to/dist/vdeliver.cjs`,
          ),
        ];
      checks.push(ok(`.qmail-default runs ${printable(found)}, which finds ${printable(node)} on qmail's PATH`));
      checks.push(warn('the shim costs start-up time on every message', `|${printable(node)} /path/to/dist/vdeliver.cjs starts faster`));
    } else checks.push(ok(`.qmail-default runs ${printable(found)}`));
  }
  const parsed = parseArgs(args);
  if ('error' in parsed)
    checks.push(
      fail(
        `.qmail-default gives vdeliver ${parsed.error}: every delivery defers`,
        "use vmailmgr's options only (-D -d -R -r -F -f --no-predeliver --no-postdeliver --quiet)",
      ),
    );
  else if (parsed.help) checks.push(fail('.qmail-default gives vdeliver --help: every delivery defers', 'remove -h / --help'));
  else if (parsed.version) checks.push(fail('.qmail-default gives vdeliver --version: every delivery defers', 'remove --version'));
  return checks;
}
