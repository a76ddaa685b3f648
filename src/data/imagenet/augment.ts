/**
 * One image and one batch: decode, crop, flip, distort, normalise.
 *
 * Training examples: Inception-style random resized crop (area fraction in
 * [areaMin, 1], aspect ratio log-uniform in [3/4, 4/3], 10 tries, then a centre
 * crop), resized to size x size, random horizontal flip, photometric
 * distortion (brightness, contrast, saturation in random order, ranges scaled
 * by `distortion` in [0, 1]; 0 = none). Evaluation examples: shorter side
 * resized to round(size / 0.875), then the centre size x size crop. Both end
 * with (pixel - meanRgb) / stdRgb per channel, pixels in 0..255.
 */
import sharp from 'sharp';
import { DataError, errorLine } from '../../errors';
import { Rng } from '../../rng';
import { Limiter } from '../prefetch';
import { Rgb } from './options';

export interface Crop {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Inception's random resized crop (as torchvision's RandomResizedCrop), in pixels of a w x h image. */
export function sampleCrop(w: number, h: number, rng: Rng, areaMin: number, aspect: [number, number]): Crop {
  const area = w * h;
  const logLo = Math.log(aspect[0]);
  const logHi = Math.log(aspect[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (areaMin + (1 - areaMin) * rng.next());
    const ratio = Math.exp(logLo + (logHi - logLo) * rng.next());
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { left: rng.int(w - cw + 1), top: rng.int(h - ch + 1), width: cw, height: ch };
    }
  }
  // Fallback: the largest centred crop whose aspect ratio is within range.
  let cw = w;
  let ch = h;
  if (w / h < aspect[0]) ch = Math.max(1, Math.min(h, Math.round(w / aspect[0])));
  else if (w / h > aspect[1]) cw = Math.max(1, Math.min(w, Math.round(h * aspect[1])));
  return { left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch };
}

/** Evaluation geometry: resize to (rw, rh) with the shorter side round(size / fraction), then crop. */
export function evalGeometry(w: number, h: number, size: number, fraction: number): { rw: number; rh: number; crop: Crop } {
  const s = Math.max(size, Math.round(size / fraction));
  const rw = w <= h ? s : Math.max(s, Math.round((w * s) / h));
  const rh = w <= h ? Math.max(s, Math.round((h * s) / w)) : s;
  return { rw, rh, crop: { left: Math.floor((rw - size) / 2), top: Math.floor((rh - size) / 2), width: size, height: size } };
}

/** What decoding one image needs: the resolved options, shipped to each decode thread. */
export interface Pipeline {
  size: number;
  augment: boolean;
  distortion: number;
  areaMin: number;
  aspect: [number, number];
  flip: boolean;
  mean: Rgb;
  invStd: Rgb;
  evalFraction: number;
}

/**
 * Brightness (+-32 levels), contrast and saturation (factor 1 +- 0.5), each
 * range times `strength`, applied in a random order with clipping to 0..255
 * after each, on an interleaved RGB slice. Contrast scales each channel about
 * its mean over the image (as TF's adjust_contrast); saturation blends with
 * the luma 0.299 R + 0.587 G + 0.114 B. The draws are made whatever the
 * strength, so strength does not shift later draws. (Hand-inlined: this runs
 * on the main thread for every training image.)
 */
export function distortColours(px: Float32Array, rng: Rng, strength: number): void {
  const order = rng.permutation(3);
  const delta = (2 * rng.next() - 1) * 32 * strength;
  const contrast = 1 + (2 * rng.next() - 1) * 0.5 * strength;
  const saturation = 1 + (2 * rng.next() - 1) * 0.5 * strength;
  if (strength === 0) return;
  const n = px.length;
  for (const op of order) {
    if (op === 0) {
      for (let i = 0; i < n; i++) {
        const v = px[i] + delta;
        px[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    } else if (op === 1) {
      let m0 = 0;
      let m1 = 0;
      let m2 = 0;
      for (let i = 0; i < n; i += 3) {
        m0 += px[i];
        m1 += px[i + 1];
        m2 += px[i + 2];
      }
      const k = (3 / n) * (1 - contrast);
      const b0 = m0 * k;
      const b1 = m1 * k;
      const b2 = m2 * k;
      for (let i = 0; i < n; i += 3) {
        const v0 = px[i] * contrast + b0;
        const v1 = px[i + 1] * contrast + b1;
        const v2 = px[i + 2] * contrast + b2;
        px[i] = v0 < 0 ? 0 : v0 > 255 ? 255 : v0;
        px[i + 1] = v1 < 0 ? 0 : v1 > 255 ? 255 : v1;
        px[i + 2] = v2 < 0 ? 0 : v2 > 255 ? 255 : v2;
      }
    } else {
      const f = saturation;
      const g = 1 - f;
      for (let i = 0; i < n; i += 3) {
        const r0 = px[i];
        const r1 = px[i + 1];
        const r2 = px[i + 2];
        const l = (0.299 * r0 + 0.587 * r1 + 0.114 * r2) * g;
        const v0 = r0 * f + l;
        const v1 = r1 * f + l;
        const v2 = r2 * f + l;
        px[i] = v0 < 0 ? 0 : v0 > 255 ? 255 : v0;
        px[i + 1] = v1 < 0 ? 0 : v1 > 255 ? 255 : v1;
        px[i + 2] = v2 < 0 ? 0 : v2 > 255 ? 255 : v2;
      }
    }
  }
}

/** Decodes one file into out (size*size*3 floats, normalised). rng null = evaluation pipeline. */
async function decodeInto(file: string, out: Float32Array, p: Pipeline, rng: Rng | null): Promise<void> {
  const size = p.size;
  let flip = false;
  let data: Buffer;
  let channels: number;
  try {
    // sharp opens the file itself, on a libuv thread.
    const img = sharp(file, { failOn: 'error' });
    const meta = await img.metadata();
    const w = meta.width;
    const h = meta.height;
    if (!w || !h) throw new Error('no image dimensions');
    if (rng) {
      img.extract(sampleCrop(w, h, rng, p.areaMin, p.aspect)).resize(size, size, { fit: 'fill' });
      flip = p.flip && rng.next() < 0.5;
    } else {
      const g = evalGeometry(w, h, size, p.evalFraction);
      img.resize(g.rw, g.rh, { fit: 'fill' }).extract(g.crop);
    }
    const r = await img.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    data = r.data;
    channels = r.info.channels;
    if (r.info.width !== size || r.info.height !== size || data.length !== size * size * channels) {
      throw new Error(`decoded to ${r.info.width}x${r.info.height}x${channels}, expected ${size}x${size}`);
    }
  } catch (e) {
    throw new DataError(`${file}: not a readable image (${errorLine(e)}); replace or delete the file`);
  }
  // Interleaved RGB on the 0..255 scale, mirrored if flipped.
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = (y * size + x) * channels;
      const d = (y * size + (flip ? size - 1 - x : x)) * 3;
      if (channels >= 3) {
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      } else {
        out[d] = out[d + 1] = out[d + 2] = data[s];
      }
    }
  }
  if (rng) distortColours(out, rng, p.distortion);
  const [m0, m1, m2] = p.mean;
  const [s0, s1, s2] = p.invStd;
  for (let i = 0; i < out.length; i += 3) {
    out[i] = (out[i] - m0) * s0;
    out[i + 1] = (out[i + 1] - m1) * s1;
    out[i + 2] = (out[i + 2] - m2) * s2;
  }
}

/** One batch's files, and the generator state of each image's augmentation. */
export interface DecodeJob {
  files: string[];
  /** Rng state per image (training pipeline), or null (evaluation). */
  rngs: number[] | null;
}

/** Decodes a batch into one NHWC Float32Array, at most `limiter`'s images at once; stops starting images once closed. */
export async function decodeBatch(job: DecodeJob, p: Pipeline, limiter: Limiter, isClosed: () => boolean): Promise<Float32Array> {
  const per = p.size * p.size * 3;
  const x = new Float32Array(job.files.length * per);
  await Promise.all(
    job.files.map((file, k) =>
      limiter.run(async () => {
        if (isClosed()) return;
        await decodeInto(file, x.subarray(k * per, (k + 1) * per), p, job.rngs ? Rng.restore(job.rngs[k]) : null);
      }),
    ),
  );
  return x;
}
