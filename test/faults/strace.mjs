// Real errno values from strace's syscall tampering (strace -e inject=SYSCALL:error=ERRNO:when=N).
// `when` counts one syscall's invocations in one process, from the very start (the shell and env
// that exec vdeliver included), so N is found, not guessed: a first delivery runs under strace
// without injection, the target call is picked out of its log, and its place among the calls of
// that syscall is N. The injected delivery is traced too, and its log must show the target call,
// and no other, marked (INJECTED). Node's start-up now and then opens a file or two more (it read
// /proc/self/maps and its own binary in one run of a dozen), so a miss is tried again in a fresh
// home, and a row whose injection keeps missing fails saying so.
import { readFileSync } from 'node:fs';

/** The strace command line that wraps a delivery: follow forks, log `trace` to `log`, inject if asked. */
export const straceWrapper = (log, trace, inject) => [
  'strace',
  '-f',
  '-qq',
  '-o',
  log,
  '-e',
  `trace=${trace.join(',')}`,
  ...(inject ? ['-e', `inject=${inject}`] : []),
  '--',
];

/**
 * The calls of the traced process (the log's first pid; vdeliver's threads and children are left
 * out), in order: { name, args, result, injected }. A call split by another thread's
 * (`<unfinished ...>` / `<... resumed>`) is joined again.
 */
export function parseTrace(log) {
  const lines = readFileSync(log, 'utf8').split('\n');
  const main = lines[0]?.split(/\s/)[0];
  const calls = [];
  let pending;
  for (const line of lines) {
    const [pid, rest] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1).trimStart()];
    if (pid !== main) continue;
    let text = rest;
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(text);
    if (unfinished) {
      pending = unfinished;
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(text);
    if (resumed && pending?.[1] === resumed[1]) text = `${pending[1]}(${pending[2]}${resumed[2]}`;
    const call = /^(\w+)\((.*)\)\s+=\s+(.*)$/.exec(text);
    if (call) calls.push({ name: call[1], args: call[2], result: call[3], injected: call[3].endsWith('(INJECTED)') });
  }
  return calls;
}

/** 1 + how many calls of the same syscall came before `call`. */
export const occurrence = (calls, call) => calls.filter((c) => c.name === call.name).indexOf(call) + 1;

// Targets in a plain delivery to `maildir`. Each picks one call out of a parsed log.
const after = (calls, call) => calls.slice(calls.indexOf(call) + 1);
const fdOf = (call) => (/^\d+$/.test(call?.result ?? '') ? call.result : undefined);
const quoted = (path) => JSON.stringify(path).slice(0, -1);

/** The exclusive create of the file in tmp/. */
export const tmpCreate = (maildir) => (calls) =>
  calls.find((c) => c.name === 'openat' && c.args.includes(quoted(`${maildir}/tmp/`)) && c.args.includes('O_CREAT'));

/** The first write to the tmp/ file, or the first fsync of it. */
export const onTmpFile = (maildir, name) => (calls) => {
  const create = tmpCreate(maildir)(calls);
  const fd = fdOf(create);
  return fd && after(calls, create).find((c) => c.name === name && c.args.split(',')[0] === fd);
};

/** The link (or linkat) of the tmp/ file into new/. */
export const linkIntoNew = (maildir) => (calls) => calls.find((c) => (c.name === 'link' || c.name === 'linkat') && c.args.includes(quoted(`${maildir}/tmp/`)));

/** The fsync of new/ itself, after the link. */
export const newDirFsync = (maildir) => (calls) => {
  const open = calls.find((c) => c.name === 'openat' && c.args.includes(`${JSON.stringify(`${maildir}/new`)},`));
  const fd = fdOf(open);
  return fd && after(calls, open).find((c) => c.name === 'fsync' && c.args === fd);
};
