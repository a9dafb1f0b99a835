import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWhole } from '../../src/system/read-whole';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'read-whole-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.each([
  ['empty', 0],
  ['one byte', 1],
  ['255 bytes, one short of the first buffer', 255],
  ['256 bytes, the first buffer exactly', 256],
  ['a block and a bit', 70000],
])('a regular file (%s) comes back byte for byte, 8-bit bytes included', (_, size) => {
  const bytes = Buffer.alloc(size, 0);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131) & 255;
  const path = join(dir, `f${size}`);
  writeFileSync(path, bytes);
  expect(readWhole(path).equals(bytes)).toBe(true);
});

test('a /proc file, whose size says 0, is read to its end, past the first buffer', () => {
  // /proc/self/maps of a Node process is far longer than 256 bytes and says its size is 0.
  const maps = readWhole('/proc/self/maps').toString('latin1');
  expect(maps.length).toBeGreaterThan(1024);
  expect(maps).toMatch(/\n$/);
  expect(readWhole('/proc/sys/kernel/hostname').toString('latin1')).toBe(readFileSync('/proc/sys/kernel/hostname', 'latin1'));
});

test('a name given as bytes reaches open(2) unchanged', () => {
  const name = Buffer.from(`${dir}/caf\xe9`, 'latin1');
  writeFileSync(name, 'latin-1 name\n');
  expect(readWhole(name).toString()).toBe('latin-1 name\n');
});

test('errors are thrown with their errno code, for the caller to classify', () => {
  expect(() => readWhole(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  expect(() => readWhole(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
});
