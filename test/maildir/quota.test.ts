/** vcheckquota's rules as a table, and the Maildir++ maildirsize cache against real files and Courier's tools. */
import { execaSync } from 'execa';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAILDIRSIZE, openTally, readMaildirSize, recalculate, type Usage } from '../../src/maildir/maildirsize';
import { quotaDefinition } from '../../src/delivery/quota';
import { judgeQuota, type QuotaLimits } from '../../src/delivery/quota-rules';
import { UNLIMITED as U } from '../../src/vmailmgr/uint32';
import { scratchDir } from '../helpers/fixtures';
import { needs } from '../helpers/requires';

const dir = scratchDir('vdeliver-quota-');
afterAll(() => dir.cleanup());

const limits = (hardquota = U, softquota = U, msgsize = U, msgcount = U): QuotaLimits => ({ hardquota, softquota, msgsize, msgcount });
const SIZE = 'vdeliver: Sorry, this message is larger than the current maximum message size limit. (#5.3.4)';
const COUNT = 'vdeliver: Sorry, the person you sent this message has too many messages stored in the mailbox (#5.2.2)';
const HARD = "vdeliver: Message would exceed virtual user's disk quota. (#5.2.2)";
const SOFT =
  "vdeliver: Sorry, your message cannot be delivered. User's disk quota exceeded. A small message will be delivered should you wish to inform this person. (#5.2.2)";

describe("vcheckquota's rules, in its order", () => {
  test.each<[string, QuotaLimits, number, Usage, string | undefined]>([
    // name, limits, message size (stored = message + 100), usage, refusal line (undefined: accepted)
    ['no limits at all', limits(), 10 ** 9, { bytes: 10 ** 12, count: 10 ** 6 }, undefined],
    ['message over msgsize', limits(U, U, 1000), 1001, { bytes: 0, count: 0 }, SIZE],
    ['message at msgsize', limits(U, U, 1000), 1000, { bytes: 0, count: 0 }, undefined],
    ['msgsize is checked before the count', limits(U, U, 10, 1), 11, { bytes: 0, count: 5 }, SIZE],
    ['count + 1 over msgcount', limits(U, U, U, 3), 10, { bytes: 0, count: 3 }, COUNT],
    ['count + 1 at msgcount', limits(U, U, U, 3), 10, { bytes: 0, count: 2 }, undefined],
    ['a msgcount of 0 refuses everything', limits(U, U, U, 0), 1, { bytes: 0, count: 0 }, COUNT],
    ['the count is checked before the quota', limits(10, U, U, 1), 10, { bytes: 500, count: 1 }, COUNT],
    ['usage + stored over the hard quota', limits(5000), 1000, { bytes: 3901, count: 1 }, HARD],
    ['usage + stored at the hard quota', limits(5000), 1000, { bytes: 3900, count: 1 }, undefined],
    ['a hard quota of 0 refuses everything', limits(0), 0, { bytes: 0, count: 0 }, HARD],
    ['a soft quota alone acts as the hard quota, with no allowance', limits(U, 5000), 100, { bytes: 5000, count: 1 }, HARD],
    ['over the soft quota, a big message is refused', limits(100000, 5000), 5000, { bytes: 4000, count: 1 }, SOFT],
    ['over the soft quota, a small message passes', limits(100000, 5000), 4096, { bytes: 4000, count: 1 }, undefined],
    ['over the soft quota, one byte over the allowance is refused', limits(100000, 5000), 4097, { bytes: 4000, count: 1 }, SOFT],
    ['over the hard quota, even a small message is refused', limits(5000, 4000), 10, { bytes: 4950, count: 1 }, HARD],
  ])('%s', (_name, l, size, usage, line) => {
    const decision = judgeQuota(l, size, size + 100, () => usage, 4096);
    if (line) expect(decision).toMatchObject({ kind: 'refuse', line });
    else expect(decision.kind).toBe('accept');
  });

  test('usage is not looked at when only msgsize is set', () => {
    expect(
      judgeQuota(
        limits(U, U, 100),
        50,
        150,
        () => {
          throw new Error('counted');
        },
        4096,
      ),
    ).toEqual({ kind: 'accept', overSoft: false });
  });
});

describe('maildirsize', () => {
  let n = 0;
  const maildir = (): string => {
    const path = join(dir.path, `m${++n}`);
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(path, sub), { recursive: true });
    return path;
  };
  const never = (): boolean => false;

  test('the definition line: the effective hard quota in bytes and the count, unlimited ones left out', () => {
    expect(quotaDefinition(limits(10000, U, U, 5))).toBe('10000S,5C');
    expect(quotaDefinition(limits(U, 3000))).toBe('3000S');
    expect(quotaDefinition(limits(U, U, U, 7))).toBe('7C');
  });

  test('a missing file is recalculated from the names (,S=) and sizes, folders counted, Trash not', () => {
    const m = maildir();
    writeFileSync(join(m, 'new', '1.M1P1.host,S=1234'), 'x'); // the name's size wins over the file's
    writeFileSync(join(m, 'cur', '2.M2P2.host:2,S'), 'y'.repeat(300)); // no size in the name: stat
    for (const folder of ['.Sent', '.Trash']) for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(m, folder, sub), { recursive: true });
    writeFileSync(join(m, '.Sent', 'cur', '3.M3P3.host,S=50:2,S'), 'z');
    writeFileSync(join(m, '.Trash', 'cur', '4.M4P4.host,S=9999:2,ST'), 'w');
    writeFileSync(join(m, 'tmp', '5.M5P5.host,S=777'), 'tmp does not count');
    expect(readMaildirSize(m, '10000S', Date.now(), never)).toEqual({ usage: { bytes: 1584, count: 3 }, recalculated: 'missing' });
    expect(readFileSync(join(m, MAILDIRSIZE), 'utf8')).toBe('10000S\n1584 3\n');
  });

  test('appends add up, and a changed definition, a corrupt line, a cut-short line, a symlink or 5120 bytes force a rescan', () => {
    const m = maildirsize('10000S', '10 1\n20 1\n');
    expect(readMaildirSize(m, '10000S', Date.now(), never)).toEqual({ usage: { bytes: 30, count: 2 } });
    expect(count(m, 5)).toBeUndefined();
    expect(readMaildirSize(m, '10000S', Date.now(), never)).toEqual({ usage: { bytes: 35, count: 3 } });
    expect(readMaildirSize(m, '20000S', Date.now(), never).recalculated).toBe('its limits differ from the record');
    expect(readMaildirSize(maildirsize('1S', '1 1\nx y\n'), '1S', Date.now(), never).recalculated).toBe('corrupt');
    expect(readMaildirSize(maildirsize('1S', '1 1\n2 1'), '1S', Date.now(), never).recalculated).toBe('corrupt');
    expect(readMaildirSize(maildirsize('1S', '1 1\n'.repeat(1300)), '1S', Date.now(), never).recalculated).toBe('5120 bytes or more');
    const linked = maildir();
    writeFileSync(join(dir.path, 'elsewhere'), '1S\n0 0\n');
    symlinkSync(join(dir.path, 'elsewhere'), join(linked, MAILDIRSIZE));
    expect(readMaildirSize(linked, '1S', Date.now(), never).recalculated).toBe('a symlink');
    expect(statSync(join(linked, MAILDIRSIZE)).isFile()).toBe(true); // the link itself was replaced
    expect(readFileSync(join(dir.path, 'elsewhere'), 'utf8')).toBe('1S\n0 0\n');
  });

  test('over quota by its figures: one line of figures younger than 15 minutes is trusted, else rescanned', () => {
    const over = (u: Usage): boolean => u.bytes > 100;
    const one = maildirsize('100S', '500 5\n');
    expect(readMaildirSize(one, '100S', Date.now(), over)).toEqual({ usage: { bytes: 500, count: 5 } });
    utimesSync(join(one, MAILDIRSIZE), new Date(Date.now() - 16 * 60000), new Date(Date.now() - 16 * 60000));
    expect(readMaildirSize(one, '100S', Date.now(), over)).toEqual({ usage: { bytes: 0, count: 0 }, recalculated: 'over quota by its figures' });
    expect(readMaildirSize(maildirsize('100S', '250 1\n250 1\n'), '100S', Date.now(), over).recalculated).toBe('over quota by its figures');
  });

  /** One delivery's count, opened and written as a delivery does around its commit. */
  function count(m: string, bytes: number): string | undefined {
    const tally = openTally(m);
    try {
      return tally.add(bytes, 1);
    } finally {
      tally.close();
    }
  }

  test('a tally whose file a rescan replaced or created after it was opened removes the file instead of guessing', () => {
    const replaced = maildirsize('1000S', '10 1\n');
    const early = openTally(replaced);
    recalculateAfterATick(replaced);
    expect(early.add(10, 1)).toBeUndefined();
    early.close();
    expect(existsSync(join(replaced, MAILDIRSIZE))).toBe(false);

    const created = maildir();
    const before = openTally(created); // no file yet
    recalculateAfterATick(created);
    expect(before.add(10, 1)).toBeUndefined();
    before.close();
    expect(existsSync(join(created, MAILDIRSIZE))).toBe(false);

    const opened = maildirsize('1000S', '10 1\n');
    const same = openTally(opened);
    expect(same.add(7, 1)).toBeUndefined();
    same.close();
    expect(readFileSync(join(opened, MAILDIRSIZE), 'utf8')).toBe('1000S\n10 1\n7 1\n');
  });

  function recalculateAfterATick(m: string): void {
    const old = new Date(Date.now() - 60000);
    for (const sub of ['new', 'cur']) utimesSync(join(m, sub), old, old);
    recalculate(m, '1000S');
    expect(existsSync(join(m, MAILDIRSIZE))).toBe(true);
  }

  test('a rescan keeps its count only once the mailbox has settled: a recent change waits a tick, a moving one removes the file', () => {
    const recent = maildir();
    writeFileSync(join(recent, 'new', '1.M1P1.host,S=10'), 'x'.repeat(10)); // new/ changed just now
    expect(recalculate(recent, '1000S')).toEqual({ bytes: 10, count: 1 });
    expect(readFileSync(join(recent, MAILDIRSIZE), 'utf8')).toBe('1000S\n10 1\n');

    // A time ahead of the clock never looks settled: the count is used but not kept.
    const moving = maildir();
    writeFileSync(join(moving, 'new', '1.M1P1.host,S=10'), 'x'.repeat(10));
    const ahead = new Date(Date.now() + 3600000);
    utimesSync(join(moving, 'new'), ahead, ahead);
    expect(recalculate(moving, '1000S')).toEqual({ bytes: 10, count: 1 });
    expect(existsSync(join(moving, MAILDIRSIZE))).toBe(false);
  });

  function maildirsize(definition: string, lines: string): string {
    const m = maildir();
    writeFileSync(join(m, MAILDIRSIZE), `${definition}\n${lines}`);
    return m;
  }

  needs('courier')("interoperates with Courier's maildirmake -q and deliverquota (Debian's maildrop)", () => {
    const m = join(dir.path, 'courier');
    expect(execaSync('maildirmake', [m], { reject: false }).exitCode).toBe(0);
    expect(execaSync('maildirmake', ['-q', '100000S,50C', m], { reject: false }).exitCode).toBe(0);
    for (const text of ['one\n', 'two two\n']) expect(execaSync('deliverquota', [m], { input: `Subject: t\n\n${text}`, reject: false }).exitCode).toBe(0);
    // Courier's file, as deliverquota left it, read by us.
    expect(readMaildirSize(m, '100000S,50C', Date.now(), never)).toEqual({ usage: { bytes: 16 + 20, count: 2 } });
    // Ours continued by deliverquota: the same totals.
    const tally = openTally(m);
    writeFileSync(join(m, 'new', `9.M9P9.host,S=40`), 'x'.repeat(40));
    expect(tally.add(40, 1)).toBeUndefined();
    tally.close();
    expect(execaSync('deliverquota', [m], { input: 'Subject: t\n\nthree\n', reject: false }).exitCode).toBe(0);
    expect(readMaildirSize(m, '100000S,50C', Date.now(), never).usage).toEqual(recalculate(join(m), '100000S,50C'));
    expect(readMaildirSize(m, '100000S,50C', Date.now(), never).usage).toEqual({ bytes: 16 + 20 + 40 + 18, count: 4 });
  });
});
