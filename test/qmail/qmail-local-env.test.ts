import { myctime, qmailLocalEnv, quote2 } from '../../src/qmail/qmail-local-env';

describe("qmail-local's environment, against the values observed on a real qmail (qmail-contract §1)", () => {
  test('Joe.Smith-foo@Example.org for base user vbase', () => {
    const env = qmailLocalEnv({
      user: 'vbase',
      home: '/home/vbase',
      ext: 'Joe.Smith-foo',
      host: 'Example.org',
      sender: 'qtest@localhost.localdomain',
      date: new Date('2026-11-22T03:25:31Z'),
    });
    expect(env).toEqual({
      HOST: 'Example.org',
      HOME: '/home/vbase',
      USER: 'vbase',
      LOCAL: 'vbase-Joe.Smith-foo',
      RECIPIENT: 'vbase-Joe.Smith-foo@Example.org',
      DTLINE: 'Delivered-To: vbase-Joe.Smith-foo@Example.org\n',
      SENDER: 'qtest@localhost.localdomain',
      RPLINE: 'Return-Path: <qtest@localhost.localdomain>\n',
      UFLINE: 'From qtest@localhost.localdomain Sun Nov 22 03:25:31 2026\n',
      EXT: 'Joe.Smith-foo',
      EXT2: 'foo',
      EXT3: '',
      EXT4: '',
      HOST2: 'Example',
      HOST3: 'Example',
      HOST4: 'Example',
      DEFAULT: 'Joe.Smith-foo',
      NEWSENDER: 'qtest@localhost.localdomain',
    });
  });

  test('a-b-c-d-e@deep.sub.example.net', () => {
    const env = qmailLocalEnv({ user: 'vbase', home: '/home/vbase', ext: 'a-b-c-d-e', host: 'deep.sub.example.net', sender: 'x@y' });
    expect([env.EXT2, env.EXT3, env.EXT4, env.HOST2, env.HOST3, env.HOST4]).toEqual(['b-c-d-e', 'c-d-e', 'd-e', 'deep.sub.example', 'deep.sub', 'deep']);
  });

  test('the null sender', () => {
    const env = qmailLocalEnv({ user: 'vbase', home: '/h', ext: 'bounce-ish', host: 'example.org', sender: '', date: new Date('2026-11-22T03:19:39Z') });
    expect([env.RPLINE, env.UFLINE, env.NEWSENDER]).toEqual(['Return-Path: <>\n', 'From MAILER-DAEMON Sun Nov 22 03:19:39 2026\n', '']);
  });

  test.each([
    ['#@[]', '#@[]'],
    ['joe smith@example.org', '"joe smith"@example.org'],
    ['.dot@x', '".dot"@x'],
    ['a..b@x', '"a..b"@x'],
    ['we"ird@x', '"we\\"ird"@x'],
    ['plain+tag@x', 'plain+tag@x'],
  ])('quote2(%p) = %p', (input, expected) => {
    expect(quote2(input)).toBe(expected);
  });

  test('myctime pads the day and uses UTC', () => {
    expect(myctime(new Date('2026-03-02T04:05:06Z'))).toBe('Mon Mar 02 04:05:06 2026\n');
  });
});
