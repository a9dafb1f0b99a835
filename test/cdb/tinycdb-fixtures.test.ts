/**
 * The tinycdb references in fixtures/tinycdb/ are committed, so `npm test` needs no tinycdb. Where
 * tinycdb is installed (CI installs it), this re-runs scripts/make-tinycdb-fixtures.sh into a scratch
 * directory and checks that every committed reference is still exactly what tinycdb makes.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, scratchDir, TINYCDB } from '../helpers/fixtures';
import { needs } from '../helpers/requires';

const dir = scratchDir();
afterAll(() => dir.cleanup());

/** Every file under `root`, as paths relative to it. */
const filesUnder = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();

needs('cdb')('scripts/make-tinycdb-fixtures.sh makes exactly the committed references', () => {
  const made = spawnSync(join(ROOT, 'scripts', 'make-tinycdb-fixtures.sh'), [dir.path], { encoding: 'utf8' });
  expect(made.stderr).toBe('');
  expect(made.status).toBe(0);
  const outputs = filesUnder(dir.path);
  // The inputs (cdbmake files, the tables the edit tests make) and the README are not the script's.
  const committed = filesUnder(TINYCDB).filter((f) => !f.endsWith('.in') && !f.startsWith('edited/') && f !== 'README.md');
  expect(outputs).toEqual(committed);
  for (const file of outputs) expect([file, readFileSync(join(dir.path, file)).equals(readFileSync(join(TINYCDB, file)))]).toEqual([file, true]);
});
