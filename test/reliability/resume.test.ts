/**
 * Interruption and resume on real training runs: SIGKILL at random moments,
 * SIGINT/SIGTERM, a second writer, a stale lock. A resumed run must log every
 * step exactly once and match an uninterrupted run with the same seed.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../src/rng';
import { CHECKPOINT_FILE } from '../../src/train/checkpoint';
import { BIN, bnrun, readCsv, ROOT } from '../cli';

// Timing columns differ between runs by nature; everything else must be identical.
const TIMING = new Set(['elapsed_s', 'steps_per_s']);

let tmp: string;
let config: string;

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args, '--no-progress'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.resume();
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

function train(args: string[]) {
  return bnrun([...args, '--no-progress']);
}

/** A run's CSV without the timing columns. */
function rows(dir: string, file: string): Record<string, string>[] {
  return readCsv(path.join(dir, file)).map((r) => Object.fromEntries(Object.entries(r).filter(([c]) => !TIMING.has(c))));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function untilFile(file: string): Promise<void> {
  for (let i = 0; i < 9000 && !fs.existsSync(file); i++) await sleep(20);
}

/** Waits until the run has logged at least `step` in metrics.csv, so a signal lands mid-training. */
async function untilStep(dir: string, step: number): Promise<void> {
  // A generous bound: on a loaded 2-core machine a run can take minutes to start.
  for (let i = 0; i < 6000; i++) {
    const file = path.join(dir, 'metrics.csv');
    if (fs.existsSync(file) && rows(dir, 'metrics.csv').some((r) => Number(r.step) >= step)) return;
    await sleep(50);
  }
  throw new Error(`${dir} never reached step ${step}`);
}

describe('interruption and resume (real MNIST runs)', () => {
  let reference: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-resume-'));
    config = path.join(tmp, 'resume.json');
    // Checkpoints every 40 steps and evaluations every 50: most kills fall between the two.
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'configs/ci/mnist-bn.json'),
        name: 'resume-test',
        training: { steps: 600, evalEvery: 50, checkpointEvery: 40, populationBatches: 20 },
        // Momentum gives the optimiser state of its own that a resume must restore.
        optimizer: { learningRate: 0.1, momentum: 0.9 },
      }),
    );
    reference = path.join(tmp, 'reference');
    const r = train(['train', config, '--out', reference]);
    assert.equal(r.status, 0, r.stderr);
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('SIGKILL at random points, resumed each time, gives the uninterrupted run step by step', async () => {
    const dir = path.join(tmp, 'killed');
    const rng = new Rng(2024);
    // One kill during start-up (before any checkpoint), then three at random steps, each a
    // random few milliseconds after an evaluation row so it lands between checkpoints.
    const targets = [50 + rng.int(150), 250 + rng.int(100), 400 + rng.int(150)];
    let child = start(['train', config, '--out', dir]);
    let done = finished(child);
    // The first kill lands while MNIST loads or the first steps run, before any checkpoint.
    await untilFile(path.join(dir, 'config.json'));
    await sleep(rng.int(600));
    for (const target of [null, ...targets]) {
      if (target !== null) {
        child = start(['train', '--resume', dir]);
        done = finished(child);
        await untilStep(dir, target);
        await sleep(rng.int(120));
      }
      child.kill('SIGKILL');
      const r = await done;
      assert.equal(r.signal, 'SIGKILL', `the run ended before it was killed: exit ${r.code} ${r.stderr}`);
    }
    const last = train(['train', '--resume', dir]);
    assert.equal(last.status, 0, last.stderr);
    for (const file of ['metrics.csv', 'activations.csv']) {
      const got = rows(dir, file);
      const want = rows(reference, file);
      assert.deepEqual(got, want, `${file} differs from the uninterrupted run`);
    }
    const steps = rows(dir, 'metrics.csv').map((r) => Number(r.step));
    assert.equal(new Set(steps).size, steps.length, 'a step was logged twice');
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string; resumedAt: number[]; final: { accuracy: number } };
    const refSummary = JSON.parse(fs.readFileSync(path.join(reference, 'summary.json'), 'utf8')) as { final: { accuracy: number } };
    assert.equal(summary.status, 'completed');
    assert.equal(summary.resumedAt.length, 4);
    assert.equal(summary.final.accuracy, refSummary.final.accuracy);
    assert.ok(
      fs.readdirSync(dir).every((f) => !f.endsWith('.tmp') || f.startsWith(`.${CHECKPOINT_FILE}.`)),
      fs.readdirSync(dir).join(' '),
    );
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} stops at a step boundary, exits ${code} with one line, and resumes exactly`, async () => {
      const dir = path.join(tmp, signal);
      const child = start(['train', config, '--out', dir]);
      const done = finished(child);
      await untilStep(dir, 100);
      child.kill(signal);
      const r = await done;
      assert.equal(r.code, code, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`${signal} at step \\d+: .*--resume ${dir.replace(/[/\\]/g, '.')}`));
      const interrupted = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string };
      assert.equal(interrupted.status, 'interrupted');
      const resumed = train(['train', '--resume', dir]);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.deepEqual(rows(dir, 'metrics.csv'), rows(reference, 'metrics.csv'));
    });
  }

  it('a second writer is refused while a run is live; a stale lock is taken over', async () => {
    const dir = path.join(tmp, 'locked');
    const child = start(['train', config, '--out', dir]);
    const done = finished(child);
    await untilStep(dir, 50);
    // Paused, the writer stays live for as long as the second one takes to start: on a fast machine
    // the 600 steps could otherwise end first, and the second writer would find a finished run.
    child.kill('SIGSTOP');
    const second = train(['train', '--resume', dir]);
    assert.equal(second.status, 1);
    assert.match(second.stderr.trim(), new RegExp(`^bnrun: .*locked is being written by process ${child.pid}`));
    child.kill('SIGKILL');
    await done;
    // The killed writer left its lock behind: it is stale and the resume takes it over.
    assert.ok(fs.existsSync(path.join(dir, '.lock')));
    const resumed = train(['train', '--resume', dir]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.ok(!fs.existsSync(path.join(dir, '.lock')));
    assert.deepEqual(rows(dir, 'metrics.csv'), rows(reference, 'metrics.csv'));
  });

  it('--resume with a config or an override is refused', () => {
    const r = train(['train', config, '--resume', path.join(tmp, 'reference')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--resume continues a run exactly as it was configured/);
    const missing = train(['train', '--resume', path.join(tmp, 'nothing-here')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /config\.json: not found; is this a bnrun run directory\?/);
  });
});
