// The cdb fuzzer (test/cdb/cdb-fuzz.test.ts, a jest test that honours VDELIVER_FUZZ_RUNS) at 100,000
// cases, for the full run only. A missing test file is a failure: the fuzzer is part of the suite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './sandbox.mjs';

const RUNS = 100000;

export function cdbFuzzRow() {
  const row = {
    fault: `cdb fuzzing, ${RUNS} cases`,
    runs: RUNS,
    expected: 'npx jest test/cdb/cdb-fuzz passes',
    lost: '-',
    truncated: '-',
    duplicated: '-',
    tmpLeft: '-',
    notes: [],
  };
  if (!existsSync(join(ROOT, 'test', 'cdb', 'cdb-fuzz.test.ts'))) {
    return { ...row, runs: 0, observed: 'test/cdb/cdb-fuzz.test.ts is missing', verdict: 'FAIL', notes: ['the cdb fuzzer is missing'] };
  }
  console.log(`\ncdb fuzzing: VDELIVER_FUZZ_RUNS=${RUNS} npx jest test/cdb/cdb-fuzz`);
  const started = performance.now();
  const r = spawnSync('npx', ['--no-install', 'jest', 'test/cdb/cdb-fuzz'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, VDELIVER_FUZZ_RUNS: String(RUNS) },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const passed = r.status === 0;
  return {
    ...row,
    observed: passed ? `passed in ${seconds} s` : `jest exited ${r.status ?? r.signal} after ${seconds} s`,
    verdict: passed ? 'ok' : 'FAIL',
    notes: passed ? [] : ['the cdb fuzzer failed: see its output above the table'],
  };
}
