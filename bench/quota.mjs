// The quota rows' setup: a record with limits, enforcement switched on, a Maildir of 100,000
// messages, and maildirsize files whose figures match, so that a delivery takes the cached path
// (one small read) and the check after each run can prove it did.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MESSAGES = 100_000;
// Far above what any row stores, so no message is refused: a refusal by the figures would make
// vdeliver recount the mailbox (the Maildir++ rule), and the rows would time that instead.
const HARDQUOTA = 2 ** 31;
const MSGCOUNT = 1_000_000;
const DEFINITION = `${HARDQUOTA}S,${MSGCOUNT}C`; // Maildir++'s limits line for these limits
// Making 100,000 files costs this machine some 10 s of system time, so the mailbox's cur/ is kept
// here between runs and moved in and out with rename(). A second bench running at the same time
// finds it gone and makes its own.
const STORE = join(tmpdir(), `vdeliver-bench-cur-${MESSAGES}`);

/** A users file for `vdeliver-admin build`: `user` with a hard quota and a message count, nothing else limited. */
export function writeUsersFile(path, user) {
  writeFileSync(path, `${user}\t*\t./users/${user}\t\t1\t1\t${HARDQUOTA}\t-\t-\t${MSGCOUNT}\t1795317611\t-\t\n`);
}

export function enforceQuotas(home) {
  writeFileSync(join(home, '.vmailmgr', 'vdeliver-enforce-quotas'), '1\n');
}

/**
 * Fill the (empty) cur/ of `maildir` with the 100,000 messages, taken from the store or made:
 * small messages named as a Maildir++ writer names them (`,S=<size>`, read: `:2,S`). Returns
 * their usage, { bytes, count }, as summed from the names.
 */
export function fillMailbox(maildir) {
  const cur = join(maildir, 'cur');
  rmSync(cur, { recursive: true });
  if (take(cur)) {
    const usage = usageOf(cur);
    if (usage.count === MESSAGES && Number.isSafeInteger(usage.bytes)) return usage;
    rmSync(cur, { recursive: true }); // not what this code makes: make it afresh
  }
  console.log(`making ${MESSAGES.toLocaleString('en')} messages once (kept in ${STORE} for the next run)...`);
  const made = join(maildir, 'cur.making');
  mkdirSync(made);
  for (let i = 0; i < MESSAGES; i++) {
    const message = Buffer.from(`From: a@b.example\nSubject: message ${i}\n\nx\n`);
    writeFileSync(join(made, `${1700000000 + i}.M0P${i}.bench.example,S=${message.length}:2,S`), message, { flag: 'wx' });
  }
  renameSync(made, cur); // only a complete cur/ ever reaches the store
  return usageOf(cur);
}

const take = (cur) => {
  try {
    renameSync(STORE, cur);
    return true;
  } catch {
    return false; // none kept, or not ours to take
  }
};

/** Put cur/ back into the store for the next run (unless another bench put one there first). */
export function keepMailbox(maildir) {
  const cur = join(maildir, 'cur');
  if (existsSync(cur) && !existsSync(STORE)) renameSync(cur, STORE);
}

function usageOf(cur) {
  const names = readdirSync(cur);
  return { bytes: names.reduce((sum, name) => sum + Number(/,S=(\d+):/.exec(name)?.[1] ?? NaN), 0), count: names.length };
}

/**
 * Write `maildir`'s maildirsize with `usage` as its one line of figures. Returns the check to run
 * after each delivery of `stored` bytes: the same file (a recount would have renamed a new one
 * into place) with exactly that delivery's line appended; it then rewrites the file in place, so
 * every run meets the same one-line cache.
 */
export function useCache(maildir, usage) {
  const path = join(maildir, 'maildirsize');
  const text = `${DEFINITION}\n${usage.bytes} ${usage.count}\n`;
  writeFileSync(path, text);
  const ino = statSync(path).ino;
  return (stored, label) => {
    const fail = (why) => {
      throw new Error(`${label}: ${why} (${path})`);
    };
    if (statSync(path).ino !== ino) fail('maildirsize was replaced: vdeliver recounted the mailbox instead of using its figures');
    const now = readFileSync(path, 'latin1');
    if (now !== `${text}${stored} 1\n`) fail(`expected the figures plus "${stored} 1", found ${JSON.stringify(now)}`);
    writeFileSync(path, text); // O_TRUNC: the same inode
  };
}
