/** A small seeded PRNG (mulberry32) so that torture tests can replay the same fault sequence. */
export type RandomSource = () => number;

/** Returns a generator of floats in [0, 1), fully determined by `seed` (any 32-bit integer). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random 32-bit seed, for when the caller gives none. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x100000000);
}
