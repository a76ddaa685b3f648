/**
 * Checkpoints are verified before a resume trusts them: a header of the wrong
 * shape, flipped bytes, or a checkpoint of another run is refused in one line
 * with exit 1 and no file touched, or, when the previous checkpoint verifies,
 * that one is used and the warning says so. A new run refuses a directory
 * holding a lone checkpoint. Real MNIST runs through the CLI.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECKPOINT_FILE, loadCheckpoint, PREVIOUS_CHECKPOINT_FILE } from '../../src/train/checkpoint';
import { bnrun, ROOT } from '../cli';

let tmp: string;
let config: string;
/** A run stopped during its final passes (summary.json removed): checkpoints at steps 10 (previous) and 20. */
let pristine: string;
/** Another run (another seed): its checkpoint belongs to a different run. */
let other: string;

/** Every file of a directory with its sha256, to show that nothing was touched. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(fs.readFileSync(path.join(dir, f)))
          .digest('hex'),
      ]),
  );
}

function copyRun(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(pristine, dir, { recursive: true });
  return dir;
}

interface Parts {
  header: Record<string, unknown>;
  body: Buffer;
}

/** Splits a format-2 checkpoint into its JSON header and tensor bytes (without the digest). */
function split(file: string): Parts {
  const buf = fs.readFileSync(file);
  const len = buf.readUInt32LE(4);
  return { header: JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<string, unknown>, body: buf.subarray(8 + len, buf.length - 32) };
}

/** Writes a checkpoint with a correct digest, as a hostile or buggy writer could. */
function join(file: string, { header, body }: Parts, digest = true): void {
  const json = Buffer.from(JSON.stringify(header));
  const lead = Buffer.alloc(8);
  lead.write('BNCK', 0, 'ascii');
  lead.writeUInt32LE(json.length, 4);
  const bytes = Buffer.concat([lead, json, body]);
  fs.writeFileSync(file, digest ? Buffer.concat([bytes, createHash('sha256').update(bytes).digest()]) : bytes);
}

function resume(dir: string) {
  return bnrun(['train', '--resume', dir, '--no-progress']);
}

/** A refused resume: exit 1, one line naming the checkpoint and `why`, and the run directory unchanged. */
function expectRefused(dir: string, why: RegExp): void {
  const before = snapshot(dir);
  const r = resume(dir);
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^bnrun: .*checkpoint\.bin: /);
  assert.match(lines[0], why);
  assert.deepEqual(snapshot(dir), before, 'a refused resume changed the run directory');
}

describe('checkpoints are verified before they are trusted (real MNIST runs)', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-ckpt-'));
    config = path.join(tmp, 'ckpt.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'configs/ci/mnist-bn.json'),
        name: 'ckpt-test',
        training: { steps: 20, evalEvery: 10, checkpointEvery: 10, populationBatches: 5 },
      }),
    );
    pristine = path.join(tmp, 'pristine');
    other = path.join(tmp, 'other');
    for (const [dir, seed] of [
      [pristine, '1'],
      [other, '2'],
    ]) {
      const r = bnrun(['train', config, '--out', dir, '--seed', seed, '--no-progress']);
      assert.equal(r.status, 0, r.stderr);
    }
    // As if killed during the final passes: the checkpoints stay, summary.json was never written.
    fs.rmSync(path.join(pristine, 'summary.json'));
    assert.equal(loadCheckpoint(pristine)?.header.loop.step, 20);
    assert.ok(fs.existsSync(path.join(pristine, PREVIOUS_CHECKPOINT_FILE)));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a new run refuses a directory holding only a checkpoint.bin', () => {
    const dir = path.join(tmp, 'lone');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(other, CHECKPOINT_FILE), path.join(dir, CHECKPOINT_FILE));
    const before = snapshot(dir);
    const r = bnrun(['train', config, '--out', dir, '--no-progress']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.trim(), /^bnrun: .*lone holds checkpoint\.bin but no config\.json.*choose another --out/);
    assert.deepEqual(snapshot(dir), before);
  });

  it("another run's checkpoint is refused, nothing touched, when there is no fallback", () => {
    const dir = copyRun('foreign');
    fs.rmSync(path.join(dir, PREVIOUS_CHECKPOINT_FILE));
    fs.copyFileSync(path.join(other, CHECKPOINT_FILE), path.join(dir, CHECKPOINT_FILE));
    expectRefused(dir, /belongs to another run.*nothing was changed/);
  });

  it('flipped tensor bytes are refused by the checksum', () => {
    const dir = copyRun('flipped');
    fs.rmSync(path.join(dir, PREVIOUS_CHECKPOINT_FILE));
    const file = path.join(dir, CHECKPOINT_FILE);
    const buf = fs.readFileSync(file);
    buf[buf.length - 1000] ^= 0x40;
    fs.writeFileSync(file, buf);
    expectRefused(dir, /checksum mismatch/);
  });

  it('a header of the wrong shape is refused even with a valid checksum, naming the field', () => {
    const dir = copyRun('bad-step');
    fs.rmSync(path.join(dir, PREVIOUS_CHECKPOINT_FILE));
    const file = path.join(dir, CHECKPOINT_FILE);
    const parts = split(file);
    (parts.header.loop as Record<string, unknown>).step = '10';
    join(file, parts);
    expectRefused(dir, /bad header: loop\.step/);
  });

  it('a damaged newest checkpoint falls back to the previous one, and says so', () => {
    const dir = copyRun('fallback');
    const file = path.join(dir, CHECKPOINT_FILE);
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 5000));
    const r = resume(dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /checkpoint\.bin: .*resumed from the previous checkpoint checkpoint\.prev\.bin \(step 10\)/);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string; resumedAt: number[] };
    assert.equal(summary.status, 'completed');
    assert.deepEqual(summary.resumedAt, [10]);
    // Redone from step 10, the rows match the run that was never damaged.
    assert.equal(
      fs.readFileSync(path.join(dir, 'metrics.csv'), 'utf8').split('\n').length,
      fs.readFileSync(path.join(pristine, 'metrics.csv'), 'utf8').split('\n').length,
    );
  });

  it('every malformed header is refused by the same check (the class, not only the instances)', () => {
    const file = path.join(pristine, CHECKPOINT_FILE);
    const expectation = (() => {
      // The expectation the CLI passes: this run's id and the checkpoint's own tensors.
      const good = loadCheckpoint(pristine);
      assert.ok(good);
      return good;
    })();
    const cases: [string, (h: Record<string, unknown>) => void, RegExp][] = [
      ['negative step', (h) => ((h.loop as Record<string, unknown>).step = -3), /loop\.step/],
      ['fractional step', (h) => ((h.loop as Record<string, unknown>).step = 2.5), /loop\.step/],
      ['tensors not a list', (h) => (h.tensors = { a: 1 }), /tensors/],
      ['batcher position garbage', (h) => (h.batcher = { epoch: 0, position: 'x', rng: 1 }), /batcher\.position/],
      ['generator state garbage', (h) => ((h.loop as Record<string, unknown>).dropoutRng = -1), /loop\.dropoutRng/],
      ['rng state garbage', (h) => (h.batcher = { epoch: 0, position: 0, rng: 2 ** 40 }), /batcher\.rng/],
      ['unknown field', (h) => (h.extra = true), /Unrecognized key/],
      ['no data position', (h) => delete h.batcher, /exactly one of batcher and stream/],
      ['tensor shape lies', (h) => ((h.tensors as { shape: number[] }[])[0].shape = [1]), /bytes after the last tensor/],
      ['another version', (h) => (h.version = 3), /version/],
    ];
    const dir = path.join(tmp, 'shapes');
    fs.mkdirSync(dir);
    for (const [what, tamper, why] of cases) {
      const parts = split(file);
      tamper(parts.header);
      join(path.join(dir, CHECKPOINT_FILE), parts);
      assert.throws(() => loadCheckpoint(dir, { run: expectation.header.run as string, steps: 20, vars: [] }), why, what);
    }
    // The one case through the CLI above; these through the same loader the CLI calls.
    assert.ok(expectation.header.version === 2);
  });
});
