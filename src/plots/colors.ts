/**
 * A colour per run name that does not depend on which other runs a figure
 * shows: the name is hashed into a fixed palette, so `mnist-bn` keeps its
 * colour from one `bnrun compare` to the next. Two names of one figure that
 * hash to the same colour are told apart by taking the next free one, in name
 * order, so a figure never draws two series alike.
 */

/** Tableau 10: ten hues that stay apart on white (more, and some would be too alike to tell apart). */
export const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'] as const;

/** FNV-1a, 32 bits: a small, stable string hash (the same in every Node version). */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The colour of each name, in the order given. */
export function stableColors(names: readonly string[]): string[] {
  const taken = new Map<string, string>();
  const used = new Set<string>();
  for (const name of [...new Set(names)].sort()) {
    let i = hashName(name) % PALETTE.length;
    // More names than colours: repeats are unavoidable, so stop probing.
    for (let k = 0; k < PALETTE.length && used.has(PALETTE[i]); k++) i = (i + 1) % PALETTE.length;
    taken.set(name, PALETTE[i]);
    used.add(PALETTE[i]);
  }
  return names.map((n) => taken.get(n) as string);
}
