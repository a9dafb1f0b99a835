// Writes fixtures/latin1/: passwd.cdb, a table whose fields are Latin-1 bytes (not UTF-8), and
// records.json, which spells out every record in hex. The records are made by vdeliver's own
// record encoder (vmailmgr's version-2 format, byte-identical to vmailmgr's for the real tables)
// and cdb writer (vmailmgr's signed-char hash), so vmailmgr's tools read the table too.
//
//   node scripts/make-latin1-fixture.mjs [DIR]    (default: fixtures/latin1)
//
// test/admin-latin1.test.ts runs it into a scratch directory and checks that the committed files
// are exactly what it writes.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(ROOT, 'fixtures', 'latin1'));

// The encoder and writer are TypeScript: bundle just those two into memory and import the result.
const { outputFiles } = await build({
  stdin: {
    contents:
      "export { encodePasswordRecord } from './src/vmailmgr/password-record'; export { buildCdb } from './src/cdb/cdb-writer'; export { printable } from './src/system/bytes';",
    resolveDir: ROOT,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'warning',
});
const { encodePasswordRecord, buildCdb, printable } = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].contents).toString('base64')}`);

const PW = '$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1'; // MD5-crypt of 'secret', as in fixtures/vmailmgr
const UNLIMITED = 0xffffffff;
const base = {
  password: PW,
  forwards: [],
  personal: '',
  hardquota: UNLIMITED,
  softquota: UNLIMITED,
  msgsize: UNLIMITED,
  msgcount: UNLIMITED,
  ctime: 1795317611,
  expiry: UNLIMITED,
  hasMailbox: true,
  mailboxEnabled: true,
};
// Strings here are byte strings (src/system/bytes.ts): '\xf6' is the single byte F6, Latin-1 for ö.
const users = [
  {
    key: 'j\xf6rg',
    about: 'Latin-1 name, directory and personal name',
    record: { ...base, directory: './users/j\xf6rg', personal: 'J\xf6rg Sch\xe4fer', msgsize: 1000000 },
  },
  {
    key: 'mueller',
    about: 'an alias forwarding to a Latin-1 address',
    record: { ...base, directory: './users/mueller', forwards: ['m\xfcller@example.org', 'alice'], hasMailbox: false },
  },
  {
    key: 'rene',
    about: 'Latin-1 personal name, ASCII directory',
    record: { ...base, directory: './users/rene', personal: 'Ren\xe9 Lef\xe8vre', hardquota: 5000000 },
  },
  { key: 'alice', about: 'plain ASCII', record: { ...base, directory: './users/alice', personal: 'Alice Example' } },
];

const hex = (byteString) => Buffer.from(byteString, 'latin1').toString('hex');
const limit = (n) => (n === UNLIMITED ? null : n);
const entries = users.map(({ key, record }) => [Buffer.from(key, 'latin1'), encodePasswordRecord(record)]);
const description = {
  file: 'passwd.cdb',
  made_by: "scripts/make-latin1-fixture.mjs: vdeliver's encodePasswordRecord (version 2) and buildCdb with the signed-char hash",
  order: 'records appear in the cdb data section in this order',
  hex_note:
    'key_hex, value_hex and the *_hex fields are the exact bytes; shown_as is how vdeliver-admin prints the key (valid UTF-8 as text, otherwise \\xNN per byte)',
  number_fields_note: 'null = stored as "-" (unlimited / never)',
  records: users.map(({ key, about, record: r }, i) => ({
    shown_as: printable(key),
    about,
    key_hex: hex(key),
    value_hex: entries[i][1].toString('hex'),
    fields: {
      password_hex: hex(r.password),
      directory_hex: hex(r.directory),
      forwards_hex: r.forwards.map(hex),
      personal_hex: hex(r.personal),
      hardquota: limit(r.hardquota),
      softquota: limit(r.softquota),
      msgsize: limit(r.msgsize),
      msgcount: limit(r.msgcount),
      ctime: r.ctime,
      expiry: limit(r.expiry),
      has_mailbox: r.hasMailbox,
      mailbox_enabled: r.mailboxEnabled,
    },
  })),
};

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'passwd.cdb'), Buffer.concat(buildCdb(entries, { hash: 'signed' })));
writeFileSync(join(out, 'records.json'), `${JSON.stringify(description, null, 1)}\n`);
