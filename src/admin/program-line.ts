import { accessSync, constants } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fsPath, printable } from '../system/bytes';
import { parseArgs } from '../delivery/command-line';
import { type Check, fail, failure, octal, ok, readBytes, stat, warn } from './checks';
import { type BaseUser, chown, quote, replaceLine, writeFile } from './fixes';

/** The PATH qmail-local's children get by default: qmail-start's, from qmail's boot script. */
export const QMAIL_PATH = '/var/qmail/bin:/usr/local/bin:/usr/bin:/bin';

const executable = (path: string): boolean => failure(() => accessSync(fsPath(path), constants.X_OK)) === undefined;
const readable = (path: string): boolean => failure(() => accessSync(fsPath(path), constants.R_OK)) === undefined;

/** Where the program line runs, and the line that would work instead. Doctor runs as the base user, so access is theirs. */
export interface LineSetting {
  /** qmail-local's working directory: relative paths on the line start there. */
  home: string;
  /** The PATH qmail-local's children get. */
  qmailPath: string;
  /** The command that puts `|<line>` in place of the program line (src/admin/fixes.ts). */
  rewrite: (line: string) => string;
  /** The fastest working line for this installation: this node and its dist/vdeliver.cjs, absolute. */
  direct: string;
}

const onPath = (name: string, path: string): string | undefined =>
  path
    .split(':')
    .map((dir) => join(dir || '.', name))
    .find((p) => stat(p)?.isFile() && executable(p));

/**
 * What `/bin/sh -c` will make of the `.qmail-default` program line: the program exists and the
 * base user can run it, a script given to node can be read, a `#!/usr/bin/env node` program finds
 * node on qmail's PATH, and the options are vdeliver's. Each failure's fix writes a line that works.
 */
export function checkProgramLine(line: string, set: LineSetting): Check[] {
  const toDirect = { fix: set.rewrite(set.direct) };
  // Simple words only: a line with quotes or shell syntax is left to the shell, and said so.
  if (/["'`$\\;&|<>(){}*?]/.test(line))
    return [
      warn(`.qmail-default's program line uses shell syntax; doctor cannot follow it: ${printable(line)}`, {
        hint: `the direct line is |${printable(set.direct)}`,
      }),
    ];
  const words = line.trim().split(/\s+/).filter(Boolean);
  const [program, ...rest] = words;
  if (!program) return [fail('.qmail-default has an empty program line: every delivery defers', toDirect)];
  // The shell searches PATH only for a name without a slash; any other is taken from the home.
  const found = program.includes('/') ? resolve(set.home, program) : onPath(program, set.qmailPath);
  if (!found) return [fail(`${printable(program)} is not found on qmail's PATH (${set.qmailPath}): every delivery exits 127`, toDirect)];
  const st = stat(found);
  if (!st) return [fail(`${printable(found)} does not exist (or the base user cannot reach it): every delivery exits 127`, toDirect)];
  if (!st.isFile() || !executable(found))
    return [
      fail(`${printable(found)} cannot be executed by the base user: every delivery exits 126`, st.isFile() ? { fix: `chmod a+rx ${quote(found)}` } : toDirect),
    ];
  const checks: Check[] = [];
  let args = rest;
  if (basename(found) === 'node' || basename(found) === 'nodejs') {
    const [script, ...options] = rest;
    if (!script || !readable(resolve(set.home, script)))
      return [fail(`node is given ${script ? `${printable(script)}, which the base user cannot read` : 'no script'}: every delivery defers`, toDirect)];
    checks.push(ok(`.qmail-default runs ${printable(found)} ${printable(script)} (no PATH lookup, no shim: the fastest start)`));
    args = options;
  } else {
    const read = readBytes(found);
    const shebang = 'text' in read ? read.text.split('\n')[0] : '';
    if (/^#!\s*\/usr\/bin\/env\s+node\b/.test(shebang)) {
      const node = onPath('node', set.qmailPath);
      if (!node)
        return [
          fail(`${printable(found)} starts node through /usr/bin/env, and qmail's PATH (${set.qmailPath}) has no node: every delivery exits 127`, toDirect),
        ];
      checks.push(ok(`.qmail-default runs ${printable(found)}, which finds ${printable(node)} on qmail's PATH`));
      checks.push(warn('the shim costs start-up time on every message', { fix: set.rewrite(`${set.direct}${args.map((a) => ` ${a}`).join('')}`) }));
    } else checks.push(ok(`.qmail-default runs ${printable(found)}`));
  }
  checks.push(...checkOptions(words, args, set));
  return checks;
}

/** vdeliver's options on the line; the fix keeps the line and drops only the words vdeliver refuses. */
function checkOptions(words: string[], args: string[], set: LineSetting): Check[] {
  const parsed = parseArgs(args);
  if (!('error' in parsed) && !parsed.help && !parsed.version) return [];
  const refused = args.filter((arg) => {
    const alone = parseArgs([arg]);
    return 'error' in alone || alone.help || alone.version;
  });
  const kept = words.filter((w, i) => i < words.length - args.length || !refused.includes(w));
  const what = 'error' in parsed ? parsed.error : parsed.help ? '--help' : '--version';
  return [fail(`.qmail-default gives vdeliver ${printable(what)}: every delivery defers`, { fix: set.rewrite(kept.join(' ')) })];
}

/** `.qmail-default` as qmail-local reads it, then its program line. */
export function checkQmailDefault(file: string, user: BaseUser, set: Omit<LineSetting, 'rewrite'>): Check[] {
  const path = quote(file);
  const st = stat(file);
  if (!st) return [fail(`${printable(file)} does not exist: mail for this domain is not handed to vdeliver`, { fix: writeFile(user, file, `|${set.direct}`) })];
  const read = readBytes(file);
  if ('code' in read)
    return [
      fail(`${printable(file)} cannot be read (${read.code}): qmail-local defers every delivery`, {
        fix: !st.isFile() ? `rmdir ${path} && ${writeFile(user, file, `|${set.direct}`)}` : st.uid === user.uid ? `chmod 644 ${path}` : chown(user, file),
      }),
    ];
  const checks: Check[] = [];
  const lines = read.text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('|'));
  const rewrite = (line: string): string => replaceLine(file, at + 1, `|${line}`);
  if (at >= 0 && /(^|\/|\s)vdeliver(\.cjs)?(\s|$)/.test(lines[at].slice(1))) checks.push(...checkProgramLine(lines[at].slice(1), { ...set, rewrite }));
  else checks.push(fail('.qmail-default does not run vdeliver', at >= 0 ? { fix: rewrite(set.direct) } : { hint: `add the line |${printable(set.direct)}` }));
  if (lines[0] === '') checks.push(fail('.qmail-default starts with a blank line: qmail-local defers', { fix: `sed -i '1{/^$/d}' ${path}` }));
  if (st.mode & 0o022)
    checks.push(
      fail(`.qmail-default is group- or world-writable (${octal(st.mode)}): qmail-local refuses a world-writable one, and others could redirect mail`, {
        fix: `chmod go-w ${path}`,
      }),
    );
  if (st.mode & 0o100)
    checks.push(fail('.qmail-default has the execute bit: qmail-local treats it as forward-only and defers on the program line', { fix: `chmod -x ${path}` }));
  if (!(st.mode & 0o022) && !(st.mode & 0o100)) checks.push(ok(`.qmail-default mode ${octal(st.mode)} is safe`));
  return checks;
}
