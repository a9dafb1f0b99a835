/**
 * The qmail-queue doubles must judge an envelope as the real qmail-queue does (qmail-contract.md
 * §9, §11.8), and the slow one must agree with the recorder on every envelope: a double that let a
 * bad envelope through would hide a broken forward. The slow one records a copy only when it exits 0.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from './helpers/fixtures';

const dir = scratchDir('vdeliver-doubles-');
afterAll(() => dir.cleanup());

const RECORDER = join(ROOT, 'test', 'doubles', 'qmail-queue-recorder');
const SLOW = join(ROOT, 'test', 'doubles', 'qmail-queue-slow');
const MESSAGE = Buffer.from('Subject: doubles\n\nbody\n');

let calls = 0;
/** Run `double` with the message on fd 0 and `envelope` on fd 1 (both files); its exit code and record directory. */
function queue(double: string, envelope: Buffer, env: Record<string, string> = {}, message = MESSAGE): { exit: number | null; records: string; ms: number } {
  const base = join(dir.path, `call-${++calls}`);
  const records = join(base, 'records');
  mkdirSync(records, { recursive: true });
  writeFileSync(join(base, 'message'), message);
  writeFileSync(join(base, 'envelope'), envelope);
  const fds = [openSync(join(base, 'message'), 'r'), openSync(join(base, 'envelope'), 'r')];
  try {
    const started = performance.now();
    const r = spawnSync(double, [], { stdio: [fds[0], fds[1], 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', QQ_RECORD_DIR: records, ...env } });
    return { exit: r.status, records, ms: performance.now() - started };
  } finally {
    fds.forEach(closeSync);
  }
}

const long = 'x'.repeat(1100);
// qmail-queue's verdicts: §11.8 where observed on the live install, the rest from qmail-queue.c.
const ENVELOPES: Array<[string, string, number]> = [
  ['one recipient', 'Fa@b.c\0Tqqdirect@example.org\0\0', 0],
  ['null sender (observed)', 'F\0Tqqdirect@example.org\0\0', 0],
  ['no recipients (observed)', 'Fa@b.c\0\0', 0],
  ['two recipients', 'Fa@b.c\0Tx@example.org\0Ty@example.org\0\0', 0],
  ['empty', '', 54],
  ['sender without its NUL', 'Fa@b.c', 54],
  ['missing final NUL (observed)', 'Fa@b.c\0Tqqdirect@example.org\0', 54],
  ['recipient without its NUL', 'Fa@b.c\0Tqqdirect@example.org', 54],
  ['no F record (observed)', 'Tqqdirect@example.org\0\0', 91],
  ['bad record type (observed)', 'Fa@b.c\0Xqqdirect@example.org\0\0', 91],
  ['bytes after the final NUL', 'Fa@b.c\0Tx@example.org\0\0junk', 91],
  ['1100-byte recipient (observed)', `Fa@b.c\0T${long}@example.org\0\0`, 11],
  ['1100-byte sender', `F${long}@b.c\0Tx@example.org\0\0`, 11],
  ['recipient of 1002 bytes (the limit, with its NUL)', `Fa@b.c\0T${'y'.repeat(1002)}\0\0`, 0],
  ['recipient of 1003 bytes', `Fa@b.c\0T${'y'.repeat(1003)}\0\0`, 11],
];

describe.each([
  ['qmail-queue-recorder', RECORDER],
  ['qmail-queue-slow', SLOW],
])('%s', (_name, double) => {
  test.each(ENVELOPES)('%s: exit %p', (_label, envelope, exit) => {
    expect(queue(double, Buffer.from(envelope, 'latin1')).exit).toBe(exit);
  });
});

describe('qmail-queue-slow records only what it queued', () => {
  test('exit 0: one record with the message and the envelope, byte for byte', () => {
    const envelope = Buffer.from('Fa@b.c\0Tx@example.org\0\0');
    const { exit, records } = queue(SLOW, envelope);
    expect(exit).toBe(0);
    const names = readdirSync(records);
    expect(names).toEqual([expect.stringMatching(/^queued-/)]);
    expect(readFileSync(join(records, names[0], 'message')).equals(MESSAGE)).toBe(true);
    expect(readFileSync(join(records, names[0], 'envelope')).equals(envelope)).toBe(true);
  });

  test.each([
    ['an incomplete envelope (54)', 'Fa@b.c\0Tx@example.org\0', {}, 54],
    ['an empty envelope (54)', '', {}, 54],
    ['a refusal ($QQ_EXIT=71)', 'Fa@b.c\0Tx@example.org\0\0', { QQ_EXIT: '71' }, 71],
  ])('%s: nothing recorded', (_label, envelope, env, exit) => {
    const { exit: code, records } = queue(SLOW, Buffer.from(envelope), env);
    expect(code).toBe(exit);
    expect(readdirSync(records)).toEqual([]);
  });

  test('it reads slowly: a 1 MiB message with 20 ms after each 64 KiB block takes at least 16 x 20 ms', () => {
    const { exit, ms } = queue(SLOW, Buffer.from('Fa@b.c\0Tx@example.org\0\0'), { QQ_PAUSE_MS: '20' }, Buffer.alloc(1 << 20, 'm'));
    expect(exit).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(16 * 20);
  });
});
