// Bundle each program into one CommonJS file, so start-up loads a single file instead of
// walking node_modules. Type-checking is tsc's job (npm run typecheck).
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none', write: false };

// The child-process module is its own file, loaded only when a hook or a forward runs.
const execApart = {
  name: 'exec-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/exec$/ }, () => ({ path: './exec.cjs', external: true }));
  },
};

const results = await Promise.all([
  build({ ...common, entryPoints: ['src/cli/vdeliver.ts'], outfile: 'dist/vdeliver.cjs', plugins: [execApart] }),
  build({ ...common, entryPoints: ['src/exec.ts'], outfile: 'dist/exec.cjs' }),
  // mailparser is loaded only by the admin commands that parse messages, and never bundled.
  build({ ...common, entryPoints: ['src/cli/admin.ts'], outfile: 'dist/vdeliver-admin.cjs', external: ['mailparser'], plugins: [execApart] }),
  build({ ...common, entryPoints: ['examples/demo.ts'], outfile: 'dist/demo.cjs' }),
]);

// Replace each file with a rename, so a delivery starting during a build never loads half a file.
for (const { outputFiles } of results) {
  for (const file of outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(`${file.path}.tmp${process.pid}`, file.contents);
    renameSync(`${file.path}.tmp${process.pid}`, file.path);
  }
}
