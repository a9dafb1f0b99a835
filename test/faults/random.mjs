// A seeded pseudo-random generator (mulberry32), so a run's kill schedule can be repeated with
// VDELIVER_FAULTS_SEED=<the seed it printed>. The timing of each kill is still the machine's.
export function seeded(seed) {
  let state = seed >>> 0;
  /** An integer from `min` to `max`, both included. */
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return min + Math.floor(unit * (max - min + 1));
  };
}
