import { missing, type Requirement, skipsForbidden } from './requirements.cjs';

/** The part of jest's `test` that a gated test needs. */
export type Gated = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

const announced = new Set<string>();

/**
 * `test` when this machine has everything in `what`; otherwise a test that skips with the reason
 * (in its name, and as one line on stderr), so `npm test` passes where only Node.js is installed.
 * Under VDELIVER_FORBID_SKIPS=1 (CI) it is a test that fails with the reason instead.
 */
export function needs(...what: Requirement[]): Gated {
  const reason = missing(...what);
  if (!reason) return test;
  if (skipsForbidden()) {
    return (name, _fn, timeout) =>
      test(
        name,
        () => {
          throw new Error(`${reason} (VDELIVER_FORBID_SKIPS=1: a skip is a failure)`);
        },
        timeout,
      );
  }
  if (!announced.has(reason)) process.stderr.write(`skipping tests: ${reason}\n`);
  announced.add(reason);
  return (name, fn, timeout) => test.skip(`${name} [skipped: ${reason}]`, fn, timeout);
}
