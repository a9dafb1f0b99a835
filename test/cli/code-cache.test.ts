/** dist/vdeliver.cjs compiles the bundle from the code cache the build made, and copes without it. */
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { makeHome, maildirFiles, homeEnv, runVdeliver } from '../helpers/home';

const dir = scratchDir('vdeliver-code-cache-');
afterAll(() => dir.cleanup());

/** A copy of dist/ whose cache file `damage` may replace, and a delivery run through its loader. */
function deliverWith(label: string, damage?: (cache: string) => void): { output: string; stored: number } {
  const dist = join(dir.path, label, 'dist');
  cpSync(join(ROOT, 'dist'), dist, { recursive: true });
  const cache = readdirSync(dist).find((name) => /^vdeliver-main\.[0-9a-f]{16}\.cjs\.cache$/.test(name));
  expect(cache).toBeDefined();
  damage?.(join(dist, cache!));
  const bin = join(dir.path, label, 'vdeliver');
  writeFileSync(bin, `#!/bin/sh\nexec '${process.execPath}' '${join(dist, 'vdeliver.cjs')}' "$@"\n`, { mode: 0o755 });
  const t = makeHome(join(dir.path, label, 'root'));
  const env = homeEnv(t, 'alice', 'sender@remote.example');
  const result = runVdeliver(t, env, ['--report-code-cache'], 'Subject: cache\n\nbody\n', 'file', bin);
  expect(result.status).toBe(0);
  return { output: result.output, stored: maildirFiles(t).length };
}

test('the build leaves a code cache that V8 accepts', () => {
  expect(deliverWith('fresh')).toEqual({ output: 'code cache accepted\n', stored: 1 });
});

test('a cache V8 rejects (another Node.js, a damaged file) falls back to compiling the source', () => {
  expect(deliverWith('damaged', (cache) => writeFileSync(cache, Buffer.alloc(4096, 7)))).toEqual({ output: 'code cache rejected\n', stored: 1 });
});

test('without a cache file the bundle is compiled from source', () => {
  expect(deliverWith('missing', (cache) => rmSync(cache))).toEqual({ output: 'code cache absent\n', stored: 1 });
});

test('the bundle is named after its content, so a cache never meets other code than its own', () => {
  const dist = join(ROOT, 'dist');
  const bundles = readdirSync(dist).filter((name) => /^vdeliver-main\./.test(name));
  expect(bundles).toHaveLength(2); // one bundle, one cache: older builds' are removed
  const bundle = bundles.find((name) => name.endsWith('.cjs'))!;
  const hash = createHash('sha256')
    .update(readFileSync(join(dist, bundle)))
    .digest('hex')
    .slice(0, 16);
  expect(bundle).toBe(`vdeliver-main.${hash}.cjs`);
  expect(readFileSync(join(dist, 'vdeliver.cjs'), 'utf8')).toContain(bundle);
});
