// Bundle each program into one CommonJS file, so start-up loads a single file instead of
// walking node_modules. Type-checking is tsc's job (npm run typecheck).
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none' };

// The child-process module (execa and its dependencies, ten times the rest of vdeliver) is its
// own bundle, loaded only when a hook or a forward runs: a plain delivery never parses it.
const execApart = {
  name: 'exec-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/exec$/ }, () => ({ path: './exec.cjs', external: true }));
  },
};

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/vdeliver.ts'], outfile: 'dist/vdeliver.cjs', plugins: [execApart] }),
  build({ ...common, entryPoints: ['src/exec.ts'], outfile: 'dist/exec.cjs' }),
  // mailparser is loaded only by the admin commands that parse messages, and never bundled.
  build({ ...common, entryPoints: ['src/cli/admin.ts'], outfile: 'dist/vdeliver-admin.cjs', external: ['mailparser'], plugins: [execApart] }),
  build({ ...common, entryPoints: ['examples/demo.ts'], outfile: 'dist/demo.cjs' }),
]);
