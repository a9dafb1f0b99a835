/**
 * The bin/ shims without the built program: one line and exit 111 (qmail's "try again later"),
 * never Node's stack trace. Only the shim's own missing dist file is caught.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';

const dir = scratchDir();
afterAll(() => dir.cleanup());

/** A copy of bin/<name> in a package whose dist/ holds only `dist` (file name to contents). */
function shim(name: string, dist: Record<string, string>): string {
  const root = join(dir.path, `${name}-${Object.keys(dist).length}`);
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist'));
  for (const [file, text] of Object.entries(dist)) writeFileSync(join(root, 'dist', file), text);
  copyFileSync(join(ROOT, 'bin', name), join(root, 'bin', name));
  return join(root, 'bin', name);
}

test.each([
  ['vdeliver', 'stdout', ' (#4.3.0)'],
  ['vdeliver-admin', 'stderr', ''],
] as const)('%s without its dist file: one line on %s, exit 111', (name, stream, code) => {
  const program = shim(name, {});
  const result = spawnSync(process.execPath, [program, '--version'], { encoding: 'utf8', env: { RECIPIENT: 'vdomain-alice@example.com' } });
  const line = `${name}: ${join(program, '..', '..', 'dist', `${name}.cjs`)} is missing: vdeliver is not built (run npm run build, or reinstall the package)${code}\n`;
  expect({ stdout: result.stdout, stderr: result.stderr }).toEqual({ stdout: '', stderr: '', [stream]: line });
  expect(result.status).toBe(111);
});

test("a module missing inside the program is the program's error, not taken for a missing build", () => {
  const program = shim('vdeliver-admin', { 'vdeliver-admin.cjs': "require('./not-there.cjs');\n" });
  const result = spawnSync(process.execPath, [program], { encoding: 'utf8' });
  expect(result.stderr).toContain("Cannot find module './not-there.cjs'");
  expect(result.stderr).not.toContain('is not built');
  expect(result.status).toBe(1);
});
