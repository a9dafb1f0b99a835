// The cdb fuzzer (test/cdb-fuzz.test.ts, a jest test that honours VDELIVER_FUZZ_RUNS) at 100,000
// cases, for the full run only. The test arrives separately: until it exists the step says so and
// is left out, which is not a failure.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './sandbox.mjs';

const RUNS = 100000;

export function cdbFuzzRow() {
  const row = { fault: `cdb fuzzing, ${RUNS} cases`, runs: RUNS, expected: 'npx jest test/cdb-fuzz passes', lost: '-', truncated: '-', duplicated: '-', tmpLeft: '-', notes: [] };
  if (!existsSync(join(ROOT, 'test', 'cdb-fuzz.test.ts'))) {
    console.log('note: test/cdb-fuzz.test.ts is not there yet; the cdb fuzzing step is left out');
    return { ...row, runs: 0, observed: 'test/cdb-fuzz.test.ts absent: not run', verdict: 'absent' };
  }
  console.log(`\ncdb fuzzing: VDELIVER_FUZZ_RUNS=${RUNS} npx jest test/cdb-fuzz`);
  const started = performance.now();
  const r = spawnSync('npx', ['--no-install', 'jest', 'test/cdb-fuzz'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, VDELIVER_FUZZ_RUNS: String(RUNS) } });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const passed = r.status === 0;
  return { ...row, observed: passed ? `passed in ${seconds} s` : `jest exited ${r.status ?? r.signal} after ${seconds} s`, verdict: passed ? 'ok' : 'FAIL', notes: passed ? [] : ['the cdb fuzzer failed: see its output above the table'] };
}
