import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FIXTURES } from './fixtures';

/** Where failing inputs are kept, to be committed as regressions (see its README.md). */
export const FUZZ_FIXTURES = join(FIXTURES, 'fuzz');

/**
 * A property in two steps: the generated value becomes a plain input (bytes, keys, a record), and the
 * check judges the input. Only the input is saved on failure, so a saved case keeps failing the same
 * way even after the generators change.
 */
export interface FuzzProperty<T, I> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  input: (value: T) => I;
  check: (input: I) => void;
}

/** Total cases across the fuzz properties: VDELIVER_FUZZ_RUNS, or 10,000 in a normal `npm test`. */
export function fuzzRuns(): number {
  const runs = Number(process.env.VDELIVER_FUZZ_RUNS ?? 10000);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`VDELIVER_FUZZ_RUNS must be a positive integer, not ${process.env.VDELIVER_FUZZ_RUNS}`);
  return runs;
}

/** How long a failure may shrink: shrinking a 6 KB random table byte by byte could otherwise take many minutes. */
const SHRINK_MS = 20000;

/** Run a property; when it fails, save the shrunk input under `saveDir` first, then fail with fast-check's report. */
export function runProperty<T, I>(property: FuzzProperty<T, I>, runs: number, saveDir = FUZZ_FIXTURES): void {
  const checked = fc.property(property.arbitrary, (value) => property.check(property.input(value)));
  // Find a failure without shrinking, then replay it (seed and path) and shrink it for at most SHRINK_MS:
  // the time limit must not cut the search itself short, only the shrinking.
  const found = fc.check(checked, { numRuns: runs, endOnFailure: true });
  if (!found.failed) return;
  const shrunk =
    found.counterexamplePath === null ? found : fc.check(checked, { seed: found.seed, path: found.counterexamplePath, interruptAfterTimeLimit: SHRINK_MS });
  const details = shrunk.failed ? shrunk : found;
  const saved = details.counterexample ? saveCounterexample(saveDir, property.name, property.input(details.counterexample[0])) : 'nothing (no counterexample)';
  const error = details.errorInstance;
  throw new Error(`${fc.defaultReportMessage(details)}\nGot: ${error instanceof Error ? error.message : String(error)}\nFailing input saved as ${saved}`, {
    cause: error,
  });
}

export interface Counterexample {
  property: string;
  input: unknown;
}

function saveCounterexample(dir: string, property: string, input: unknown): string {
  const text = `${JSON.stringify({ property, input }, bytesAsHex, 1)}\n`;
  const path = join(dir, `${property}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, text);
  return path;
}

export const loadCounterexample = (path: string): Counterexample => JSON.parse(readFileSync(path, 'utf8'), hexAsBytes);

export const counterexampleFiles = (dir = FUZZ_FIXTURES): string[] =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => join(dir, name));

// Tables are binary: bytes are stored as {"hex": "..."}. `this[key]` is the value before Buffer's toJSON.
function bytesAsHex(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? { hex: Buffer.from(raw).toString('hex') } : value;
}

function hexAsBytes(_key: string, value: unknown): unknown {
  const hex = (value as { hex?: unknown } | null)?.hex;
  return typeof hex === 'string' && Object.keys(value as object).length === 1 ? Buffer.from(hex, 'hex') : value;
}
