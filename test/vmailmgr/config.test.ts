import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Config, CONFIG_ITEMS } from '../../src/vmailmgr/config';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { scratchDir, VMAILMGR } from '../helpers/fixtures';

describe('config layering', () => {
  const dir = scratchDir();
  const home = join(dir.path, 'home');
  const global = join(dir.path, 'etc');
  mkdirSync(join(home, '.vmailmgr'), { recursive: true });
  mkdirSync(global);
  afterAll(() => dir.cleanup());

  const write = (where: string, item: string, text: string): void => writeFileSync(join(where, item), text);
  const local = join(home, '.vmailmgr');

  test('defaults match what the real showvconfig prints with no configuration', () => {
    const shown = new Map<string, string[]>();
    for (const line of readFileSync(join(VMAILMGR, 'config', 'showvconfig-defaults.txt'), 'utf8').split('\n')) {
      const m = /^([a-z-]+): (.*)$/.exec(line);
      if (m) shown.set(m[1], [...(shown.get(m[1]) ?? []), m[2]]);
    }
    const config = new Config(home, global);
    for (const [item, spec] of Object.entries(CONFIG_ITEMS)) {
      if (item.startsWith('vdeliver-')) continue; // ours, not vmailmgr's
      const expected = shown.get(item);
      expect(expected).toBeDefined();
      if (spec.type === 'number') expect(config.number(item as 'default-expiry')).toBe(expected![0] === '-1' ? UNLIMITED : Number(expected![0]));
      else if (spec.type === 'list') expect(config.list(item as 'postmaster-aliases')).toEqual(expected);
      else expect(config.string(item as 'password-file')).toBe(expected![0]);
    }
    expect(config.number('vdeliver-hook-timeout')).toBe(300);
  });

  test.each([
    [
      'local over global',
      [
        ['global', 'password-file', 'g\n'],
        ['local', 'password-file', 'l\n'],
      ],
      'password-file',
      'l',
    ],
    ['global when no local', [['global', 'password-file', 'g\n']], 'password-file', 'g'],
    [
      'an empty local file does not hide the global one',
      [
        ['global', 'password-file', 'g'],
        ['local', 'password-file', '  \n'],
      ],
      'password-file',
      'g',
    ],
    ['only the first line counts, stripped of spaces and CR', [['local', 'default-username', '  catchall \r\nsecond\n']], 'default-username', 'catchall'],
    ['dir values get a trailing slash', [['local', 'qmail-root', '/opt/qmail\n']], 'qmail-root', '/opt/qmail/'],
  ])('%s', (_what, files, item, expected) => {
    const config = new Config(home, global);
    for (const f of ['password-file', 'default-username', 'qmail-root']) for (const d of [local, global]) write(d, f, '');
    for (const [where, name, text] of files as string[][]) write(where === 'local' ? local : global, name, text);
    expect(config.string(item as 'password-file')).toBe(expected);
  });

  test.each([
    ['123', 123],
    ['  42 trailing', 42],
    ['-', UNLIMITED],
    ['-1', UNLIMITED],
    ['4294967296', 0],
  ])('number %p reads as %p', (text, expected) => {
    write(local, 'default-msgsize', text);
    expect(new Config(home, global).number('default-msgsize')).toBe(expected);
  });

  test('a number file without digits is skipped and the search goes on', () => {
    write(local, 'default-msgcount', 'lots\n');
    write(global, 'default-msgcount', '10\n');
    expect(new Config(home, global).number('default-msgcount')).toBe(10);
  });

  test('lists drop empty lines and comments', () => {
    write(local, 'postmaster-aliases', '# who\n  abuse \n\nhostmaster\n');
    expect(new Config(home, global).list('postmaster-aliases')).toEqual(['abuse', 'hostmaster']);
  });

  test('source names the file a value came from', () => {
    write(local, 'user-dir', 'mail\n');
    const config = new Config(home, global);
    expect(config.source('user-dir')).toBe(join(local, 'user-dir'));
    expect(config.string('user-dir')).toBe('mail/');
    expect(config.source('separators' as 'user-dir')).toBeUndefined();
  });
});
