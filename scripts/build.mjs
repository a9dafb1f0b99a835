// Bundle each program into one CommonJS file, so start-up loads a single file instead of
// walking node_modules. Type-checking is tsc's job (npm run typecheck).
// vdeliver runs once per message, so its start-up is tuned further: dist/vdeliver.cjs is a small
// loader that compiles dist/vdeliver-main.<hash>.cjs from a V8 code cache made here by one real
// delivery. The bundle is named after its content, so a cache can only ever meet the code it was
// made from (V8 checks only the source's length), and a delivery starting during a build runs
// either the old loader, bundle and cache, or the new ones.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

// The version is put into the programs here, so `--version` never reads package.json at run time.
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  legalComments: 'none',
  write: false,
  define: { VERSION: JSON.stringify(version) },
};

// The child-process module is its own file, loaded only when a hook or a forward runs.
const execApart = {
  name: 'exec-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/system\/exec$/ }, () => ({ path: './exec.cjs', external: true }));
  },
};
// vdeliver-admin's re-run as the base user, with execa (an ES module, bundled here as CommonJS):
// its own file, so only a command run as root loads it, and the delivery never does.
const asUserApart = {
  name: 'as-user-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/system\/as-user$/ }, () => ({ path: './as-user.cjs', external: true }));
  },
};

const results = await Promise.all([
  build({ ...common, entryPoints: ['src/system/exec.ts'], outfile: 'dist/exec.cjs' }),
  build({ ...common, entryPoints: ['src/system/as-user.ts'], outfile: 'dist/as-user.cjs' }),
  // mailparser is loaded only by the admin commands that parse messages, and never bundled.
  build({ ...common, entryPoints: ['src/cli/admin.ts'], outfile: 'dist/vdeliver-admin.cjs', external: ['mailparser'], plugins: [execApart, asUserApart] }),
  build({ ...common, entryPoints: ['examples/demo.ts'], outfile: 'dist/demo.cjs' }),
]);

// Replace each file with a rename, so a delivery starting during a build never loads half a file.
const replace = (path, contents) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp${process.pid}`, contents);
  renameSync(`${path}.tmp${process.pid}`, path);
};
for (const { outputFiles } of results) for (const file of outputFiles) replace(file.path, file.contents);

// The man pages, from their Markdown sources in man/ (marked-man, a devDependency: only builds need it).
for (const page of ['vdeliver.8', 'vdeliver-admin.8']) {
  const made = spawnSync(
    process.execPath,
    ['node_modules/marked-man/bin/marked-man.js', '--no-breaks', '--version', version, '--manual', "System Manager's Manual", `man/${page}.md`],
    {
      encoding: 'utf8',
    },
  );
  if (made.status !== 0) throw new Error(`man/${page}.md: marked-man failed: ${made.stderr}`);
  replace(`dist/man/${page}`, made.stdout);
}

// vdeliver: the content-named bundle, its code cache (made through a loader not yet in place), then the loader.
const main = (await build({ ...common, entryPoints: ['src/cli/vdeliver.ts'], outfile: 'dist/vdeliver-main.cjs', plugins: [execApart] })).outputFiles[0];
// The loader decodes the bundle as Latin-1 (its fastest read), exact only for ASCII, which esbuild's
// default charset gives; a change there must fail here, not in a delivery.
if (main.contents.some((byte) => byte > 0x7f)) throw new Error('dist/vdeliver-main.cjs is not ASCII: the loader reads it as Latin-1');
const bundle = `vdeliver-main.${createHash('sha256').update(main.contents).digest('hex').slice(0, 16)}.cjs`;
replace(`dist/${bundle}`, main.contents);
const loader = (
  await build({
    ...common,
    entryPoints: ['src/cli/load-cached.ts'],
    outfile: 'dist/vdeliver.cjs',
    define: { ...common.define, BUNDLE: JSON.stringify(bundle) },
  })
).outputFiles[0];
const staged = `dist/vdeliver.cjs.new${process.pid}`;
writeFileSync(staged, loader.contents);
try {
  writeCodeCache(staged, `dist/${bundle}.cache`);
  renameSync(staged, 'dist/vdeliver.cjs');
} finally {
  rmSync(staged, { force: true });
}
// Older bundles and caches: no loader names them any more.
for (const name of readdirSync('dist')) if (/^vdeliver-main\./.test(name) && !name.startsWith(bundle)) rmSync(join('dist', name));

/**
 * One delivery into a throwaway Maildir, with the loader told to save V8's code cache at
 * exit: the cache then holds every function such a delivery runs, compiled. Quotas are enforced
 * in it (a limit and the config item), so their code is in the cache too: the examples turn them on;
 * and the delivery is logged (vdeliver-log), so the log line's code is compiled as well.
 */
function writeCodeCache(loader, cache) {
  const made = resolve(`${cache}.tmp${process.pid}`);
  const sandbox = mkdtempSync(join(tmpdir(), 'vdeliver-build-'));
  try {
    const home = join(sandbox, 'home');
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(home, 'users', 'warm', sub), { recursive: true });
    mkdirSync(join(home, '.vmailmgr'));
    writeFileSync(join(home, '.vmailmgr', 'vdeliver-enforce-quotas'), '1\n');
    writeFileSync(join(home, '.vmailmgr', 'vdeliver-log'), 'deliveries.log\n');
    // A predeliver hook and a forward too, through a qmail-queue that reads the copy and the envelope
    // as the real one does: the code that starts children is then compiled from the cache as well.
    writeFileSync(join(home, '.vmailmgr', 'vdeliver-predeliver'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    writeFileSync(join(home, '.vmailmgr', 'qmail-root'), `${sandbox}/\n`);
    writeFileSync(join(sandbox, 'qmail-queue'), '#!/bin/sh\ncat >/dev/null && cat <&1 >/dev/null\n', { mode: 0o755 });
    writeFileSync(join(sandbox, 'users.tsv'), 'warm\t*\t./users/warm\tforwarded@example.org\t1\t1\t1000000\t-\t-\t-\t0\t-\t\n');
    const admin = spawnSync(process.execPath, ['dist/vdeliver-admin.cjs', 'build', '--home', home, join(sandbox, 'users.tsv')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, VDELIVER_CONFIG_DIR: sandbox },
    });
    if (admin.status !== 0) throw new Error(`code cache: building the table failed: ${admin.stderr}`);
    writeFileSync(join(sandbox, 'message'), 'Subject: warm-up\n\nA delivery to make the code cache.\n');
    const stdin = openSync(join(sandbox, 'message'), 'r');
    const env = {
      HOME: home,
      USER: 'build',
      EXT: 'warm',
      HOST: 'example.com',
      SENDER: 'build@example.com',
      RECIPIENT: 'build-warm@example.com',
      UFLINE: 'From build@example.com Thu Jan  1 00:00:00 1970\n',
      RPLINE: 'Return-Path: <build@example.com>\n',
      DTLINE: 'Delivered-To: build-warm@example.com\n',
      VDELIVER_CONFIG_DIR: sandbox,
      QMAILQUEUE: join(sandbox, 'qmail-queue'),
      PATH: process.env.PATH,
    };
    const run = spawnSync(process.execPath, [resolve(loader), '--write-code-cache', made], {
      env,
      cwd: home,
      stdio: [stdin, 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    closeSync(stdin);
    if (run.status !== 0 || run.stdout !== '') throw new Error(`code cache: the warm-up delivery failed (exit ${run.status}): ${run.stdout}${run.stderr}`);
    const logged = readFileSync(join(home, 'deliveries.log'), 'utf8');
    if (!/"outcome":"delivered"/.test(logged) || !/"queued":true/.test(logged) || !/"hooks":\[/.test(logged))
      throw new Error(`code cache: the warm-up delivery was not logged as delivered, hooked and forwarded: ${logged}`);
    renameSync(made, cache);
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
    // A warm-up that failed must not leave its half-made cache in dist/.
    rmSync(made, { force: true });
  }
}
