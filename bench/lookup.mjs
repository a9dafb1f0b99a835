// Lookup cost against table size: the real 26- and 11,001-record tables and a generated
// 1,000,000-record one. Each lookup opens the table, reads a few positional chunks and closes it,
// exactly as a delivery does. Run with: node bench/lookup.mjs
import { buildSync } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'vdeliver-lookup-'));
const bundle = join(work, 'cdb.cjs');
buildSync({ stdin: { contents: "export { CdbReader } from './src/cdb-reader'; export { writeCdb } from './src/cdb-writer';", resolveDir: root, loader: 'ts' }, bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'warning' });
const { CdbReader, writeCdb } = createRequire(import.meta.url)(bundle);

const generated = join(work, 'million.cdb');
function* records() {
  const value = Buffer.from('020a010801002a0075736572732f78000000002d002d002d002d0031373935333137363131002d00', 'hex');
  for (let i = 1; i <= 1_000_000; i++) yield [Buffer.from(`user${String(i).padStart(7, '0')}`), value];
}
writeCdb(generated, records(), { hash: 'signed' });

const tables = [
  ['basic (26 records)', join(root, 'fixtures/vmailmgr/basic/passwd.cdb'), ['alice', 'bob', 'nosuchuser', 'jörg']],
  ['large (11,001 records)', join(root, 'fixtures/vmailmgr/large/passwd.cdb'), ['user00001', 'user05000', 'alias10000', 'nosuchuser']],
  ['generated (1,000,000 records)', generated, ['user0000001', 'user0500000', 'user1000000', 'nosuchuser']],
];
console.log('table'.padEnd(32), 'size'.padStart(10), 'µs/lookup'.padStart(10), 'bytes read'.padStart(11));
for (const [name, path, keys] of tables) {
  const rounds = 20000;
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    const reader = CdbReader.open(path);
    reader.get(Buffer.from(keys[i % keys.length]));
    bytes += reader.bytesRead;
    reader.close();
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / rounds;
  console.log(name.padEnd(32), `${(statSync(path).size / 1048576).toFixed(1)} MiB`.padStart(10), us.toFixed(1).padStart(10), (bytes / rounds).toFixed(0).padStart(11));
}
rmSync(work, { recursive: true, force: true });
