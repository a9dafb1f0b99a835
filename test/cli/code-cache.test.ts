/** dist/vdeliver.cjs compiles the bundle from the code cache the build made, and copes without it. */
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { makeHome, maildirFiles, homeEnv, runVdeliver } from '../helpers/home';

const dir = scratchDir('vdeliver-code-cache-');
afterAll(() => dir.cleanup());

/** A copy of dist/ whose cache file `damage` may replace, and a delivery run through its loader. */
function deliverWith(label: string, damage?: (cache: string) => void): { output: string; stored: number } {
  const dist = join(dir.path, label, 'dist');
  cpSync(join(ROOT, 'dist'), dist, { recursive: true });
  damage?.(join(dist, 'vdeliver-main.cjs.cache'));
  const bin = join(dir.path, label, 'vdeliver');
  writeFileSync(bin, `#!/bin/sh\nexec '${process.execPath}' '${join(dist, 'vdeliver.cjs')}' "$@"\n`, { mode: 0o755 });
  const t = makeHome(join(dir.path, label, 'root'));
  const env = { ...homeEnv(t, 'alice', 'sender@remote.example'), VDELIVER_REPORT_CODE_CACHE: '1' };
  const result = runVdeliver(t, env, [], 'Subject: cache\n\nbody\n', 'file', bin);
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
