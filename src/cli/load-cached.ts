/**
 * What `node dist/vdeliver.cjs` runs: the program's bundle, compiled from the V8 code cache the
 * build made for it, so a delivery does not spend its first milliseconds compiling the same code
 * every time. If V8 rejects the cache (another Node.js version), it compiles the source as usual.
 * Node's own require() would compile the bundle afresh on every run: it has no code cache in Node 20.
 */
import { writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { readWhole } from '../system/read-whole';

declare const BUNDLE: string;

const file = join(__dirname, BUNDLE);
let cachedData: Buffer | undefined;
try {
  cachedData = readWhole(`${file}.cache`);
} catch {
  // No cache (a build without one): compile from source.
}
let source: string | undefined;
try {
  // The build makes the bundle ASCII (esbuild escapes everything else), so Latin-1 decodes it exactly, and fastest.
  source = readWhole(file).toString('latin1');
} catch (error) {
  // A partial copy or install of dist/: one status line and a deferral, as every failure gets, not a stack trace.
  const code = (error as NodeJS.ErrnoException).code ?? 'an error';
  writeSync(1, `vdeliver: cannot read the program ${file} (${code}): dist/ is incomplete; reinstall or rebuild vdeliver (#4.3.0)\n`);
  process.exitCode = 111;
}
if (source !== undefined) run(source);

function run(source: string): void {
  // The same wrapper Node puts around a CommonJS module, so the bundle runs exactly as under require().
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  // The build runs one delivery with `--write-code-cache FILE` first, and keeps what V8 compiled by
  // the end of it; tests ask with `--report-code-cache`. Both are taken off argv before the program
  // sees it (and neither comes from the environment, which qmail passes on to every delivery).
  if (process.argv[2] === '--write-code-cache') {
    const target = process.argv.splice(2, 2)[1];
    process.on('exit', () => writeFileSync(target, script.createCachedData()));
  }
  if (process.argv[2] === '--report-code-cache') {
    process.argv.splice(2, 1);
    writeSync(2, `code cache ${cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
  }
  const module = { exports: {} };
  // The loader's own require: the bundle sits beside it, so `./exec.cjs` resolves the same, and
  // node:module's createRequire (which loads the ES module loader with it) is not needed.
  // Each bundled module requires node:fs for itself; Node's require would redo its export bookkeeping every time.
  const loaded: Record<string, unknown> = {};
  const cachedRequire = (id: string): unknown => (loaded[id] ??= require(id));
  script.runInThisContext()(module.exports, cachedRequire, module, file, __dirname);
}
