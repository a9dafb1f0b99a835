import { join } from 'node:path';
import { fromText } from '../../src/system/bytes';
import { lookupUser, requireDeliverable, wantsMailbox } from '../../src/vmailmgr/lookup';
import { DeliveryFailure } from '../../src/qmail/outcome';
import { PasswordTable } from '../../src/vmailmgr/password-table';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { VMAILMGR } from '../helpers/fixtures';

const NOW = 1795317900;
const defaults = { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED };
const basic = PasswordTable.open(join(VMAILMGR, 'basic', 'passwd.cdb'), defaults, NOW);
const legacy = PasswordTable.open(join(VMAILMGR, 'legacy', 'passwd.cdb'), defaults, NOW);
afterAll(() => {
  basic.close();
  legacy.close();
});

const failure = (fn: () => unknown): DeliveryFailure => {
  try {
    fn();
  } catch (error) {
    if (error instanceof DeliveryFailure) return error;
    throw error;
  }
  throw new Error('expected a DeliveryFailure');
};

describe('lookup in the real basic table', () => {
  test.each([
    // ext, answered by, key, directory
    ['alice', 'direct', 'alice', './users/alice'],
    ['ALICE', 'direct', 'alice', './users/alice'],
    ['MixedCase', 'direct', 'mixedcase', './users/MixedCase'],
    ['John.Doe', 'direct', 'john.doe', './users/john:doe'],
    ['first-last', 'direct', 'first-last', './users/first-last'],
    ['jörg', 'direct', 'jörg', './users/jörg'],
    // ASCII-only folding: Ö is not Latin-lower-cased, so JÖRG misses and the catch-all answers.
    ['JÖRG', 'catch-all', '+', './users/info'.replace('info', '+')],
    ['alice-ext', 'catch-all', '+', './users/+'],
    ['nosuchuser', 'catch-all', '+', './users/+'],
    ['', 'catch-all', '+', './users/+'],
  ])('%p is answered %s by %p', (ext, via, key, _dir) => {
    // Names and keys are byte strings: the UTF-8 bytes of the text here.
    const user = lookupUser(basic, fromText(ext), '+')!;
    expect(user).toMatchObject({ via, key: fromText(key), name: via === 'direct' ? fromText(ext) : '+' });
  });

  test("without a catch-all an unknown name bounces with vmailmgr's words", () => {
    const user = lookupUser(basic, 'nosuchuser', 'no-such-default');
    expect(user).toBeUndefined();
    const f = failure(() => requireDeliverable(user, 'nosuchuser', NOW));
    expect(f.outcome).toEqual({ kind: 'bounce', line: "vdeliver: Invalid or unknown virtual user 'nosuchuser' (#5.1.1)" });
  });

  test('expiry in the past bounces; in the future it does not', () => {
    expect(failure(() => requireDeliverable(lookupUser(basic, 'Expired', '+'), 'Expired', NOW)).outcome).toEqual({
      kind: 'bounce',
      line: "vdeliver: Virtual user 'Expired' has expired (#5.2.1)",
    });
    expect(requireDeliverable(lookupUser(basic, 'future', '+'), 'future', NOW).record.expiry).toBe(4102444800);
  });

  test.each([
    ['alice', true],
    ['disabled', false],
    ['info', false],
    ['emptyalias', false],
    ['nomailbox', false],
    ['bob', true],
  ])('%s wants a Maildir copy: %p', (ext, expected) => {
    expect(wantsMailbox(lookupUser(basic, ext, 'no-such-default')!.record)).toBe(expected);
  });
});

describe('lookup in the hand-built legacy table', () => {
  test('an upper-case key in the table is never found', () => {
    expect(lookupUser(legacy, 'UPPERKEY', '+')?.via).toBe('catch-all');
    expect(legacy.find('UPPERKEY').status).toBe('absent');
  });

  test.each(['badversion', 'badflag', 'extrafield', 'noterm', 'badnumber'])(
    'a corrupt record for %s defers instead of falling back to the catch-all',
    (ext) => {
      const f = failure(() => lookupUser(legacy, ext, '+'));
      expect(f.outcome.kind).toBe('defer');
      expect(f.outcome.line).toContain(`'${ext}'`);
    },
  );

  test('old and version 1 records are found', () => {
    expect(lookupUser(legacy, 'olduser', '+')?.record).toMatchObject({ version: 0, directory: './users/olduser' });
    expect(lookupUser(legacy, 'v1alias', '+')?.record.forwards).toEqual(['alice', 'x@example.org']);
  });
});
