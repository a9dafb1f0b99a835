import { hookVerdict } from '../src/qmail/exit-codes';
import { uniqueName } from '../src/maildir/maildir-writer';
import { qmailQueueVerdict } from '../src/qmail/exit-codes';
import { constants } from 'node:os';
import { errnoText } from '../src/system/errno';
import { fileFailure } from '../src/maildir/maildir-writer';
import { oneLine, quoteName } from '../src/qmail/status-line';
import { parseArgs } from '../src/delivery/command-line';

describe('hook exit codes (qmail-command rules)', () => {
  test.each([
    [0, 'continue'],
    [99, 'stop'],
    [100, 'bounce'],
    [64, 'bounce'],
    [65, 'bounce'],
    [70, 'bounce'],
    [76, 'bounce'],
    [77, 'bounce'],
    [78, 'bounce'],
    [112, 'bounce'],
    [111, 'defer'],
    [1, 'defer'],
    [127, 'defer'],
    [255, 'defer'],
    [undefined, 'defer'],
  ])('%p -> %s', (code, verdict) => expect(hookVerdict(code)).toBe(verdict));
});

describe("qmail-queue exit codes, read with qmail.c's table", () => {
  test.each([
    [0, false, undefined],
    [0, true, { permanent: false, text: 'qq read error (#4.3.0)' }],
    [11, false, { permanent: true, text: 'envelope address too long for qq (#5.1.3)' }],
    [31, false, { permanent: true, text: 'mail server permanently rejected message (#5.3.0)' }],
    [40, false, { permanent: true, text: 'qq permanent problem (#5.3.0)' }],
    [53, false, { permanent: false, text: 'qq write error or disk full (#4.3.0)' }],
    [71, false, { permanent: false, text: 'mail server temporarily rejected message (#4.3.0)' }],
    [91, false, { permanent: false, text: 'qq internal bug (#4.3.0)' }],
    [120, false, { permanent: false, text: 'unable to exec qq (#4.3.0)' }],
    [99, false, { permanent: false, text: 'qq temporary problem (#4.3.0)' }],
    [undefined, false, { permanent: false, text: 'qq crashed (#4.3.0)' }],
  ])('exit %p (write failed: %p)', (code, writeFailed, verdict) => expect(qmailQueueVerdict(code, '', writeFailed)).toEqual(verdict));

  test('82 takes its class and text from fd 6, adding a status code when missing', () => {
    expect(qmailQueueVerdict(82, 'Dno thanks', false)).toEqual({ permanent: true, text: 'no thanks (#5.3.0)' });
    expect(qmailQueueVerdict(82, 'Zbusy (#4.3.5)\n', false)).toEqual({ permanent: false, text: 'busy (#4.3.5)' });
    expect(qmailQueueVerdict(82, '', false)).toEqual({ permanent: false, text: 'qq temporary problem (#4.3.0)' });
  });
});

describe('the errno table', () => {
  // What Node 20 really throws: a negative errno, and a code string that has no name for EDQUOT.
  const err = (name: keyof typeof constants.errno, code: string = name, words = 'unknown error'): NodeJS.ErrnoException =>
    Object.assign(new Error(`${code}: ${words}, write`), { errno: -constants.errno[name], code, syscall: 'write' });
  test('EDQUOT is recognised by its number although Node 20 calls it "Unknown system error -122"', () => {
    const edquot = err('EDQUOT', `Unknown system error -${constants.errno.EDQUOT}`);
    expect(fileFailure('Error writing the output file.', edquot).outcome).toEqual({
      kind: 'bounce',
      line: 'vdeliver: Delivery failed due to system quota violation (#5.2.2)',
    });
    expect(errnoText(edquot)).toBe('EDQUOT (disk quota exceeded)');
  });
  test("anything else defers, named by its number with libuv's words where Node has them", () => {
    expect(fileFailure('Error writing the output file.', err('ENOSPC', 'ENOSPC', 'no space left on device')).outcome).toEqual({
      kind: 'defer',
      line: 'vdeliver: Error writing the output file. ENOSPC (no space left on device) (#4.3.0)',
    });
    // Node's stream writes say UNKNOWN for an errno libuv cannot name: the number still tells.
    expect(fileFailure('Error writing the output file.', err('ESTALE', 'UNKNOWN')).outcome).toEqual({
      kind: 'defer',
      line: 'vdeliver: Error writing the output file. ESTALE (stale file handle) (#4.3.0)',
    });
    expect(fileFailure('Error creating the output file.', new Error('not a system error')).outcome.kind).toBe('defer');
  });
});

describe('Maildir names', () => {
  test('unique parts, / : and , in the host name escaped, and the size as Maildir++ writes it', () => {
    const name = uniqueName({ now: () => 1795317900123.456, pid: 4242, hostname: 'mx/1:a,b' }, 2, 4187);
    expect(name).toMatch(/^1795317900\.M123456P4242Q2R[0-9a-f]{16}\.mx\\0571\\072a\\054b,S=4187$/);
    expect(uniqueName({ now: () => 1, pid: 1, hostname: 'h' }, 1, 0)).not.toBe(uniqueName({ now: () => 1, pid: 1, hostname: 'h' }, 1, 0));
  });
});

describe('status lines', () => {
  test('names from the envelope cannot break the line', () => {
    expect(quoteName('a\nb\tc')).toBe('a\\x0ab\\x09c');
    expect(quoteName('x'.repeat(500))).toHaveLength(203);
  });
  test('a long line is cut in the middle, keeping the status code', () => {
    const line = oneLine(`vdeliver: ${'y'.repeat(5000)} (#5.1.1)`);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1000);
    expect(line.endsWith('... (#5.1.1)')).toBe(true);
  });
});

describe("vmailmgr's command line", () => {
  test.each<[string[], object]>([
    [[], { options: { deliveredTo: true, returnPath: true, fromLine: false }, help: false }],
    [['-rd'], { options: { deliveredTo: false, returnPath: false } }],
    [['-dD'], { options: { deliveredTo: true } }],
    [['-F', '--quiet', '--no-predeliver'], { options: { fromLine: true, quiet: true, predeliver: false, postdeliver: true } }],
    [['--help'], { help: true }],
    [['-x'], { error: 'unknown option letter -x' }],
    [['--quiet=1'], { error: "unknown option string: '--quiet=1'" }],
    [['extra'], { error: 'Too many command-line arguments' }],
    [['--', '-d'], { error: 'Too many command-line arguments' }],
    [['-d', '--'], { options: { deliveredTo: false } }],
    // Names of Object.prototype's own members are unknown options, not accepted and not a crash.
    [['--constructor'], { error: "unknown option string: '--constructor'" }],
    [['--toString'], { error: "unknown option string: '--toString'" }],
    [['--__proto__'], { error: "unknown option string: '--__proto__'" }],
    [['--hasOwnProperty'], { error: "unknown option string: '--hasOwnProperty'" }],
  ])('%p', (argv, expected) => expect(parseArgs(argv)).toMatchObject(expected));
});
