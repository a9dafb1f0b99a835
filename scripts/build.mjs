// Bundle each program into one CommonJS file, so start-up loads a single file instead of
// walking node_modules. Type-checking is tsc's job (npm run typecheck).
// vdeliver runs once per message, so its start-up is tuned further: dist/vdeliver.cjs is a small
// loader that compiles dist/vdeliver-main.cjs from a V8 code cache made here by one real delivery.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none', write: false };

// The child-process module is its own file, loaded only when a hook or a forward runs.
const execApart = {
  name: 'exec-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/system\/exec$/ }, () => ({ path: './exec.cjs', external: true }));
  },
};

const results = await Promise.all([
  build({ ...common, entryPoints: ['src/cli/vdeliver.ts'], outfile: 'dist/vdeliver-main.cjs', plugins: [execApart] }),
  build({ ...common, entryPoints: ['src/cli/load-cached.ts'], outfile: 'dist/vdeliver.cjs', define: { BUNDLE: '"vdeliver-main.cjs"' } }),
  build({ ...common, entryPoints: ['src/system/exec.ts'], outfile: 'dist/exec.cjs' }),
  // mailparser is loaded only by the admin commands that parse messages, and never bundled.
  build({ ...common, entryPoints: ['src/cli/admin.ts'], outfile: 'dist/vdeliver-admin.cjs', external: ['mailparser'], plugins: [execApart] }),
  build({ ...common, entryPoints: ['examples/demo.ts'], outfile: 'dist/demo.cjs' }),
]);

// Replace each file with a rename, so a delivery starting during a build never loads half a file.
const replace = (path, contents) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp${process.pid}`, contents);
  renameSync(`${path}.tmp${process.pid}`, path);
};
for (const { outputFiles } of results) for (const file of outputFiles) replace(file.path, file.contents);
writeCodeCache('dist/vdeliver-main.cjs');

/**
 * One plain delivery into a throwaway Maildir, with the loader told to save V8's code cache at
 * exit: the cache then holds every function a plain delivery runs, compiled.
 */
function writeCodeCache(bundle) {
  const sandbox = mkdtempSync(join(tmpdir(), 'vdeliver-build-'));
  try {
    const home = join(sandbox, 'home');
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(home, 'users', 'warm', sub), { recursive: true });
    mkdirSync(join(home, '.vmailmgr'));
    writeFileSync(join(sandbox, 'users.tsv'), 'warm\t*\t./users/warm\t\t1\t1\t-\t-\t-\t-\t0\t-\t\n');
    const admin = spawnSync(process.execPath, ['dist/vdeliver-admin.cjs', 'build', '--home', home, join(sandbox, 'users.tsv')], { encoding: 'utf8', env: { PATH: process.env.PATH, VDELIVER_CONFIG_DIR: sandbox } });
    if (admin.status !== 0) throw new Error(`code cache: building the table failed: ${admin.stderr}`);
    writeFileSync(join(sandbox, 'message'), 'Subject: warm-up\n\nA delivery to make the code cache.\n');
    const stdin = openSync(join(sandbox, 'message'), 'r');
    const env = {
      HOME: home, USER: 'build', EXT: 'warm', HOST: 'example.com', SENDER: 'build@example.com', RECIPIENT: 'build-warm@example.com',
      UFLINE: 'From build@example.com Thu Jan  1 00:00:00 1970\n', RPLINE: 'Return-Path: <build@example.com>\n', DTLINE: 'Delivered-To: build-warm@example.com\n',
      VDELIVER_CONFIG_DIR: sandbox, VDELIVER_WRITE_CODE_CACHE: resolve(`${bundle}.cache.tmp${process.pid}`), PATH: process.env.PATH,
    };
    const run = spawnSync(process.execPath, [resolve('dist/vdeliver.cjs')], { env, cwd: home, stdio: [stdin, 'pipe', 'pipe'], encoding: 'utf8' });
    closeSync(stdin);
    if (run.status !== 0) throw new Error(`code cache: the warm-up delivery failed (exit ${run.status}): ${run.stdout}${run.stderr}`);
    renameSync(env.VDELIVER_WRITE_CODE_CACHE, `${bundle}.cache`);
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
}
