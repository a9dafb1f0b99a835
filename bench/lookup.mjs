// Lookup cost against table size: the real 26- and 11,001-record tables and a generated
// 1,000,000-record one. Each lookup opens the table, reads a few positional chunks and closes it,
// exactly as a delivery does. Run with: node bench/lookup.mjs
import { buildSync } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'vdeliver-lookup-'));
const bundle = join(work, 'cdb.cjs');
buildSync({
  stdin: { contents: "export { CdbReader } from './src/cdb/cdb-reader'; export { buildCdb } from './src/cdb/cdb-writer';", resolveDir: root, loader: 'ts' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  outfile: bundle,
  logLevel: 'warning',
});
const { CdbReader, buildCdb } = createRequire(import.meta.url)(bundle);

const generated = join(work, 'million.cdb');
function* records() {
  const value = Buffer.from('020a010801002a0075736572732f78000000002d002d002d002d0031373935333137363131002d00', 'hex');
  for (let i = 1; i <= 1_000_000; i++) yield [Buffer.from(`user${String(i).padStart(7, '0')}`), value];
}
// The project's layout (buildCdb), written at once: writeCdb makes three write() calls a record,
// some 10 s of a quick bench run for this table, and only the lookups are measured here.
writeFileSync(generated, Buffer.concat(buildCdb(records(), { hash: 'signed' })));

const tables = [
  ['basic (26 records)', join(root, 'fixtures/vmailmgr/basic/passwd.cdb'), ['alice', 'bob', 'nosuchuser', 'jörg']],
  ['large (11,001 records)', join(root, 'fixtures/vmailmgr/large/passwd.cdb'), ['user00001', 'user05000', 'alias10000', 'nosuchuser']],
  ['generated (1,000,000 records)', generated, ['user0000001', 'user0500000', 'user1000000', 'nosuchuser']],
];
// Fairness: one untimed warm-up pass, then ROUNDS passes over the three tables in rotating order, so
// JIT warm-up and outside load do not favour one table; each table's figure is its median pass.
// "Within noise": the tables' medians differ by no more than one table's own pass-to-pass spread.
const ROUNDS = 7;
const LOOKUPS = 10000;
function pass([, path, keys]) {
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    const reader = CdbReader.open(path);
    reader.get(Buffer.from(keys[i % keys.length]));
    bytes += reader.bytesRead;
    reader.close();
  }
  return { us: Number(process.hrtime.bigint() - start) / 1000 / LOOKUPS, bytes: bytes / LOOKUPS };
}
for (const table of tables) pass(table);
const passes = tables.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < tables.length; k++) {
    const t = (round + k) % tables.length;
    passes[t].push(pass(tables[t]));
  }
}
const sorted = (t) => passes[t].map((p) => p.us).sort((a, b) => a - b);
const medians = tables.map((_, t) => sorted(t)[ROUNDS >> 1]);
const spreads = tables.map((_, t) => sorted(t)[ROUNDS - 1] - sorted(t)[0]);

console.log(
  `\n${`lookups, median of ${ROUNDS} passes of ${LOOKUPS}`.padEnd(40)}${['size', 'µs/lookup', 'min-max', 'bytes read'].map((h) => h.padStart(11)).join('')}`,
);
tables.forEach(([name, path], t) => {
  const range = `${sorted(t)[0].toFixed(1)}-${sorted(t)[ROUNDS - 1].toFixed(1)}`;
  console.log(
    `  ${name.padEnd(38)}${[`${(statSync(path).size / 1048576).toFixed(1)} MiB`, medians[t].toFixed(1), range, passes[t][0].bytes.toFixed(0)].map((c) => c.padStart(11)).join('')}`,
  );
});
const gap = Math.max(...medians) - Math.min(...medians);
const noise = Math.max(...spreads);
const measured = `${gap.toFixed(1)} apart, noise ${noise.toFixed(1)} µs`;
console.log(
  `\ntarget\n  ${'lookups within noise (medians apart <= largest min-max)'.padEnd(62)}${measured.padStart(24)}  ${gap <= noise ? 'holds' : 'MISSED'}`,
);
rmSync(work, { recursive: true, force: true });
