// Bundle each program into one CommonJS file, so start-up loads a single file instead of
// walking node_modules. Type-checking is tsc's job (npm run typecheck).
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none' };
await Promise.all([
  build({ ...common, entryPoints: ['src/cli/vdeliver.ts'], outfile: 'dist/vdeliver.cjs' }),
  // mailparser is loaded only by the admin commands that parse messages, and never bundled.
  build({ ...common, entryPoints: ['src/cli/admin.ts'], outfile: 'dist/vdeliver-admin.cjs', external: ['mailparser'] }),
  build({ ...common, entryPoints: ['examples/demo.ts'], outfile: 'dist/demo.cjs' }),
]);
