/**
 * A small seeded generator (mulberry32) for test data, independent of
 * src/rng.ts so a change there cannot change what the tests feed in.
 */
export class TestRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }

  /** Standard normal by Box-Muller. */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** n float32-representable normals. */
  normals(n: number, sd = 1, mean = 0): number[] {
    return Array.from({ length: n }, () => Math.fround(mean + sd * this.normal()));
  }

  /** n float32-representable uniforms in [lo, hi). */
  uniforms(n: number, lo: number, hi: number): number[] {
    return Array.from({ length: n }, () => Math.fround(this.uniform(lo, hi)));
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** n uniforms in [lo, hi) as a Float32Array. */
  array(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
}
