/**
 * `bnrun compare` on the hand-made runs under test/fixtures/results/:
 *
 *   mnist-baseline     paper mnist-baseline, seed 1: max 0.90 at step 400 (the target)
 *   mnist-bn-s1, -s2   one config (mnist-bn), seeds 1 and 2: reach 0.90 at 200 and 100
 *   mnist-bn-lr5       diverged at step 137 (event row + summary), max 0.50
 *   mnist-bn-killed    no summary.json, last metrics.csv line cut short; reaches 0.90 at 100
 *   no-metrics         config.json only
 *   fashion-bn         fashion-mnist: its own section, no baseline
 *   imagenet/inception, bn-x5, bn-x5-sigmoid   model.type inception (target 0.62)
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTarget } from '../../src/commands/args';
import { compareCommand, Io } from '../../src/commands/compare';
import { parseCsv } from '../../src/logging/csv';
import { CSV_COLUMNS, formatComparison } from '../../src/compare/format';
import { PUBLISHED } from '../../src/compare/paper';
import { discoverRunDirs, loadRuns } from '../../src/compare/runs';
import { buildComparison, Comparison, GroupRow, Section } from '../../src/compare/table';
import { ConfigError } from '../../src/errors';
import { LOCK_FILE, RunLock } from '../../src/logging/lock';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'results');

function section(c: Comparison, dataset: string): Section {
  const s = c.sections.find((x) => x.dataset === dataset);
  assert.ok(s, `no section ${dataset}`);
  return s;
}

function row(s: Section, label: string): GroupRow {
  const r = s.rows.find((x) => x.label === label);
  assert.ok(r, `no row ${label} in ${s.dataset}`);
  return r;
}

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (l) => void err.push(l) }, out, err };
}

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-compare-'));
  made.push(d);
  return d;
}

/** A copy of some fixture runs in a fresh directory, to alter. */
function copyRuns(...ids: string[]): string {
  const dir = tmpDir();
  for (const id of ids) fs.cpSync(path.join(FIXTURES, id), path.join(dir, id), { recursive: true });
  return dir;
}

describe('reading CSV files', () => {
  const header = 'step,lr,test_accuracy\n';
  it('keeps complete rows and accepts CRLF', () => {
    const t = parseCsv(`${header}0,0.5,0.1\r\n100,0.5,0.9\n`);
    assert.ok(t);
    assert.deepEqual(t.rows, [
      { step: '0', lr: '0.5', test_accuracy: '0.1' },
      { step: '100', lr: '0.5', test_accuracy: '0.9' },
    ]);
    assert.deepEqual(t.dropped, []);
  });
  it('drops a last line without its newline, even when it has every cell', () => {
    for (const tail of ['100,0.5', '100,0.5,0.9']) {
      const t = parseCsv(`${header}0,0.5,0.1\n${tail}`);
      assert.ok(t);
      assert.equal(t.rows.length, 1);
      assert.deepEqual(t.dropped, ['last line truncated (dropped)']);
    }
  });
  it('drops a newline-terminated last line with too few cells, and counts malformed lines inside', () => {
    const t = parseCsv(`${header}0,0.5\n100,0.5,0.9\n200,0.5\n`);
    assert.ok(t);
    assert.deepEqual(t.rows, [{ step: '100', lr: '0.5', test_accuracy: '0.9' }]);
    assert.deepEqual(t.dropped, ['last line truncated (dropped)', '1 malformed line (dropped)']);
  });
  it('has no table without a complete header line', () => {
    assert.equal(parseCsv(''), null);
    assert.equal(parseCsv('step,lr'), null);
  });
});

describe('finding and loading runs', () => {
  it('finds every run directory, nested ones included', () => {
    const ids = discoverRunDirs(FIXTURES).map((d) => path.relative(FIXTURES, d).split(path.sep).join('/'));
    assert.deepEqual(ids, [
      'fashion-bn',
      'imagenet/bn-x5',
      'imagenet/bn-x5-sigmoid',
      'imagenet/inception',
      'mnist-baseline',
      'mnist-bn-killed',
      'mnist-bn-lr5',
      'mnist-bn-s1',
      'mnist-bn-s2',
      'no-metrics',
    ]);
  });

  it('loads the good runs and reports each bad one in exactly one line', () => {
    const { runs, problems } = loadRuns(FIXTURES);
    assert.equal(runs.length, 9);
    assert.ok(!runs.some((r) => r.id === 'no-metrics'));
    assert.deepEqual(
      problems.map((p) => [p.id, p.skipped]),
      [
        ['mnist-bn-killed', false],
        ['no-metrics', true],
      ],
    );
    for (const p of problems) assert.ok(!p.message.includes('\n'), p.message);
    const killed = problems[0].message;
    assert.match(killed, /mnist-bn-killed: incomplete: no summary\.json/);
    assert.match(killed, /metrics\.csv last line truncated \(dropped\)/);
    assert.match(problems[1].message, /no-metrics: skipped: no metrics\.csv$/);
  });

  it('derives status, divergence and the evaluations', () => {
    const { runs } = loadRuns(FIXTURES);
    const by = new Map(runs.map((r) => [r.id, r]));
    const killed = by.get('mnist-bn-killed');
    assert.equal(killed?.status, 'incomplete');
    assert.equal(killed?.lastStep, 200);
    assert.deepEqual(
      killed?.evals.map((e) => e.step),
      [0, 100, 200],
    );
    const lr5 = by.get('mnist-bn-lr5');
    assert.equal(lr5?.status, 'diverged');
    assert.equal(lr5?.divergedAt, 137);
    assert.deepEqual(
      lr5?.evals.map((e) => e.step),
      [0, 100],
    );
    assert.equal(by.get('imagenet/inception')?.info.modelType, 'inception');
    assert.equal(by.get('mnist-bn-s2')?.info.seed, 2);
    assert.equal(by.get('mnist-baseline')?.activations.length, 12);
  });

  it('skips a run whose metrics.csv has a header but no evaluated row, and one without config.json', () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-s1');
    fs.writeFileSync(path.join(dir, 'mnist-bn-s1', 'metrics.csv'), 'step,lr,train_loss,test_loss,test_accuracy,elapsed_s,steps_per_s,event\n');
    fs.mkdirSync(path.join(dir, 'orphan'));
    fs.copyFileSync(path.join(FIXTURES, 'mnist-baseline', 'metrics.csv'), path.join(dir, 'orphan', 'metrics.csv'));
    const { runs, problems } = loadRuns(dir);
    assert.deepEqual(
      runs.map((r) => r.id),
      ['mnist-baseline'],
    );
    assert.deepEqual(
      problems.map((p) => p.message.slice(dir.length + 1)),
      ['mnist-bn-s1: skipped: metrics.csv has no evaluated rows', 'orphan: skipped: no config.json'],
    );
  });

  it('takes divergence from metrics.csv when a diverged run has no summary.json', () => {
    const dir = copyRuns('mnist-bn-lr5');
    fs.rmSync(path.join(dir, 'mnist-bn-lr5', 'summary.json'));
    const { runs, problems } = loadRuns(dir);
    assert.equal(runs[0].status, 'diverged');
    assert.equal(runs[0].divergedAt, 137);
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /no summary\.json; metrics\.csv says it diverged at step 137/);
  });
});

describe('the comparison table', () => {
  const { runs } = loadRuns(FIXTURES);
  const c = buildComparison(runs);

  it('compares each dataset apart, in name order, and says so', () => {
    assert.deepEqual(
      c.sections.map((s) => s.dataset),
      ['fashion-mnist', 'imagenet', 'mnist'],
    );
    assert.deepEqual(c.notes, ['runs on 3 datasets (fashion-mnist, imagenet, mnist): each dataset is compared separately']);
  });

  it('MNIST: baseline from config.paper, target = its best accuracy, steps and speed-ups', () => {
    const s = section(c, 'mnist');
    assert.equal(s.baseline, 'mnist-baseline');
    assert.equal(s.baselineFrom, 'paper');
    assert.equal(s.target, 0.9);
    assert.equal(s.targetFrom, 'baseline');
    assert.equal(s.baselineSteps, 400);
    assert.deepEqual(
      s.rows.map((r) => r.label),
      ['mnist-baseline', 'mnist-bn', 'mnist-bn-killed', 'mnist-bn-lr5'],
    );

    const base = row(s, 'mnist-baseline');
    assert.equal(base.isBaseline, true);
    assert.deepEqual(base.stepsToTarget, { mean: 400, min: 400, max: 400, n: 1 });
    assert.deepEqual(base.speedup, { mean: 1, min: 1, max: 1, n: 1 });

    const bn = row(s, 'mnist-bn');
    assert.deepEqual(bn.seeds, [1, 2]);
    assert.deepEqual(
      bn.runs.map((r) => r.stepsToTarget),
      [200, 100],
    );
    assert.equal(bn.reached, 2);
    assert.deepEqual(bn.stepsToTarget, { mean: 150, min: 100, max: 200, n: 2 });
    // 400 / 150 for the group; 400/200 and 400/100 for the seeds.
    assert.deepEqual(bn.speedup, { mean: 2.66666666667, min: 2, max: 4, n: 2 });
    assert.deepEqual(bn.maxAccuracy, { mean: 0.955, min: 0.95, max: 0.96, n: 2 });
    assert.deepEqual(bn.maxAccuracyStep, { mean: 450, min: 400, max: 500, n: 2 });
    assert.equal(bn.status, 'completed');

    const killed = row(s, 'mnist-bn-killed');
    assert.deepEqual(killed.stepsToTarget, { mean: 100, min: 100, max: 100, n: 1 });
    assert.equal(killed.speedup?.mean, 4);
    assert.equal(killed.status, 'incomplete at step 200 (no summary.json)');

    const lr5 = row(s, 'mnist-bn-lr5');
    assert.equal(lr5.stepsToTarget, null);
    assert.equal(lr5.reached, 0);
    assert.equal(lr5.speedup, null);
    assert.deepEqual(lr5.maxAccuracy, { mean: 0.5, min: 0.5, max: 0.5, n: 1 });
    assert.equal(lr5.status, 'diverged at step 137');
  });

  it('ImageNet: the published Figure 3 numbers beside the paper networks', () => {
    const s = section(c, 'imagenet');
    assert.equal(s.baseline, 'inception');
    assert.equal(s.target, 0.62);
    assert.deepEqual(
      s.rows.map((r) => r.label),
      ['inception', 'bn-x5', 'bn-x5-sigmoid'],
    );
    const inc = row(s, 'inception');
    assert.equal(inc.published?.steps, 31.0e6);
    assert.equal(inc.published?.maxAccuracy, 0.722);
    assert.equal(inc.publishedSpeedup, 1);
    const x5 = row(s, 'bn-x5');
    assert.equal(x5.stepsToTarget?.mean, 2000);
    assert.equal(x5.speedup?.mean, 2);
    assert.equal(x5.published?.steps, 2.1e6);
    assert.equal(x5.published?.maxAccuracy, 0.73);
    assert.equal(x5.publishedSpeedup, 14.7619047619);
    const sig = row(s, 'bn-x5-sigmoid');
    assert.equal(sig.stepsToTarget, null);
    assert.equal(sig.published?.steps, 'never');
    assert.equal(sig.published?.maxAccuracy, 0.698);
  });

  it('has every published number of the paper', () => {
    assert.deepEqual(Object.fromEntries(Object.entries(PUBLISHED).map(([k, p]) => [k, [p.steps, p.maxAccuracy]])), {
      'mnist-baseline': [null, null],
      'mnist-bn': [null, null],
      inception: [31.0e6, 0.722],
      'bn-baseline': [13.3e6, 0.727],
      'bn-x5': [2.1e6, 0.73],
      'bn-x30': [2.7e6, 0.748],
      'bn-x5-sigmoid': ['never', 0.698],
      'inception-x5': ['diverges', null],
      'inception-sigmoid': ['never', null],
    });
    assert.match(PUBLISHED['mnist-bn'].note, /faster.*higher/);
    assert.match(PUBLISHED['inception-sigmoid'].note, /chance/);
  });

  it('without a baseline: max and final accuracy only, and a note', () => {
    const s = section(c, 'fashion-mnist');
    assert.equal(s.baseline, null);
    assert.equal(s.target, null);
    const r = row(s, 'fashion-bn');
    assert.equal(r.stepsToTarget, null);
    assert.equal(r.speedup, null);
    assert.equal(r.maxAccuracy.mean, 0.8);
    assert.equal(r.maxAccuracyStep.mean, 200);
    assert.match(s.notes[0], /^fashion-mnist: no baseline .*--baseline NAME.*max and final accuracy only$/);
  });

  it('--target replaces the baseline best everywhere; a baseline that never reaches it gives no speed-ups', () => {
    const t = buildComparison(runs, { target: 0.93 });
    const s = section(t, 'mnist');
    assert.equal(s.target, 0.93);
    assert.equal(s.targetFrom, 'option');
    assert.equal(s.baselineSteps, null);
    assert.deepEqual(row(s, 'mnist-bn').stepsToTarget, { mean: 300, min: 300, max: 300, n: 2 });
    assert.equal(row(s, 'mnist-bn').speedup, null);
    assert.equal(row(s, 'mnist-bn-killed').stepsToTarget?.mean, 200);
    assert.deepEqual(s.notes, [
      'mnist: runs of unequal length: mnist-bn-killed 200 steps (incomplete); the others 500: max and final accuracy cover different spans',
      'mnist: the baseline mnist-baseline never reached the target: no speed-ups',
    ]);
    // fashion-mnist has no baseline but now a target.
    assert.equal(section(t, 'fashion-mnist').target, 0.93);
    assert.equal(row(section(t, 'fashion-mnist'), 'fashion-bn').stepsToTarget, null);
  });

  it('--baseline picks another group; a seed that never reaches the mean best is counted out', () => {
    const b = buildComparison(runs, { baseline: 'mnist-bn' });
    const s = section(b, 'mnist');
    assert.equal(s.baseline, 'mnist-bn');
    assert.equal(s.baselineFrom, 'option');
    assert.equal(s.target, 0.955); // mean of 0.96 and 0.95
    const bn = row(s, 'mnist-bn');
    assert.equal(s.rows[0], bn);
    assert.equal(bn.reached, 1); // seed 2 peaks at 0.95
    assert.deepEqual(bn.stepsToTarget, { mean: 500, min: 500, max: 500, n: 1 });
    assert.equal(row(s, 'mnist-baseline').stepsToTarget, null);
    assert.match(formatComparison(b, 'text'), /500 \(1\/2 seeds\)/);
    // Other datasets keep their own baseline.
    assert.equal(section(b, 'imagenet').baseline, 'inception');
  });

  it('--baseline naming no group is a usage error', () => {
    assert.throws(
      () => buildComparison(runs, { baseline: 'nope' }),
      (e: unknown) => e instanceof ConfigError && /--baseline nope: no run group/.test(e.message),
    );
  });

  it('keeps runs of one name but different configs apart, labelled by the difference', () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-s1', 'mnist-bn-s2');
    const cfgFile = path.join(dir, 'mnist-bn-s2', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { optimizer: { learningRate: number } };
    cfg.optimizer.learningRate = 2;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const v = buildComparison(loadRuns(dir).runs);
    assert.deepEqual(
      section(v, 'mnist').rows.map((r) => r.label),
      ['mnist-baseline', 'mnist-bn {optimizer.learningRate=0.5}', 'mnist-bn {optimizer.learningRate=2}'],
    );
    assert.deepEqual(v.notes, ['mnist: runs named mnist-bn differ in optimizer.learningRate: compared as 2 groups']);
  });

  it('final accuracy: summary.json final.accuracy over the seeds that have one, beside the max', () => {
    const s = section(c, 'mnist');
    assert.deepEqual(row(s, 'mnist-bn').finalAccuracy, { mean: 0.956, min: 0.951, max: 0.961, n: 2 });
    assert.equal(row(s, 'mnist-bn').finalStatistics, 'population');
    assert.equal(row(s, 'mnist-baseline').finalStatistics, 'none');
    assert.equal(row(s, 'mnist-bn-killed').finalAccuracy, null);
    // One seed without a summary: the mean is over the other, and the cell says so.
    const dir = copyRuns('mnist-bn-s1', 'mnist-bn-s2');
    fs.rmSync(path.join(dir, 'mnist-bn-s2', 'summary.json'));
    const one = buildComparison(loadRuns(dir).runs);
    assert.deepEqual(row(section(one, 'mnist'), 'mnist-bn').finalAccuracy, { mean: 0.961, min: 0.961, max: 0.961, n: 1 });
    assert.match(formatComparison(one, 'text'), /^mnist-bn +2 +1,2 .* 96\.10 \(1\/2 seeds\) +1 completed, 1 incomplete at step 500/m);
  });

  it('a run whose lock is held by a live process is running (pid N), not incomplete', () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-killed');
    // The lock a real writer takes; this test's own process is the live writer.
    const lock = RunLock.acquire(path.join(dir, 'mnist-bn-killed'));
    try {
      const { runs, problems } = loadRuns(dir);
      const run = runs.find((r) => r.id === 'mnist-bn-killed');
      assert.equal(run?.status, 'running');
      assert.equal(run?.writerPid, process.pid);
      assert.match(problems[0].message, new RegExp(`mnist-bn-killed: running \\(pid ${process.pid}\\): compared up to step 200 so far`));
      const r = row(section(buildComparison(runs), 'mnist'), 'mnist-bn-killed');
      assert.equal(r.status, `running (pid ${process.pid}) at step 200`);
      assert.match(formatComparison(buildComparison(runs), 'text'), new RegExp(`running \\(pid ${process.pid}\\) at step 200`));
    } finally {
      lock.release();
    }
    // Released: incomplete again (killed?).
    assert.equal(loadRuns(dir).runs.find((r) => r.id === 'mnist-bn-killed')?.status, 'incomplete');
    // A lock left by a process that is gone is stale: incomplete.
    fs.writeFileSync(path.join(dir, 'mnist-bn-killed', LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname() }));
    assert.equal(loadRuns(dir).runs.find((r) => r.id === 'mnist-bn-killed')?.status, 'incomplete');
  });

  it('warns when the baseline is not complete: its best, the target and the speed-ups may still move', () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-s1');
    fs.rmSync(path.join(dir, 'mnist-baseline', 'summary.json'));
    const s = section(buildComparison(loadRuns(dir).runs), 'mnist');
    assert.deepEqual(s.notes, [
      'mnist: the baseline mnist-baseline is not complete (incomplete at step 500 (no summary.json)): its best accuracy (the target) and its steps to it, and so every speed-up, may still change',
    ]);
    const t = section(buildComparison(loadRuns(dir).runs, { target: 0.9 }), 'mnist');
    assert.match(t.notes[0], /is not complete .*: its steps to the target, and so every speed-up, may still change$/);
    // A complete baseline: no warning, and runs of one length: no length warning.
    assert.deepEqual(section(buildComparison(loadRuns(copyRuns('mnist-baseline', 'mnist-bn-s1')).runs), 'mnist').notes, []);
  });

  it('warns when runs cover different numbers of steps, naming the odd ones; a diverged run counts its configured length', () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-s1', 'mnist-bn-s2', 'mnist-bn-lr5');
    // mnist-bn-s2 stopped at step 300: drop its last two rows and its summary.
    const m = path.join(dir, 'mnist-bn-s2', 'metrics.csv');
    fs.writeFileSync(m, fs.readFileSync(m, 'utf8').trim().split('\n').slice(0, -2).join('\n') + '\n');
    fs.rmSync(path.join(dir, 'mnist-bn-s2', 'summary.json'));
    const s = section(buildComparison(loadRuns(dir).runs), 'mnist');
    assert.deepEqual(s.notes, [
      'mnist: runs of unequal length: mnist-bn seed 2 300 steps (incomplete); the others 500: max and final accuracy cover different spans',
    ]);
  });

  it('prints no paper speed-ups in a section without a baseline', () => {
    const dir = copyRuns('imagenet/bn-x5', 'imagenet/bn-x5-sigmoid');
    const c2 = buildComparison(loadRuns(dir).runs);
    const s = section(c2, 'imagenet');
    assert.equal(s.baseline, null);
    assert.equal(row(s, 'bn-x5').publishedSpeedup, null);
    const text = formatComparison(c2, 'text');
    assert.ok(!text.includes('paper: speed-up'), text);
    assert.ok(!text.includes('14.76x'), text);
    assert.ok(!text.includes("speed-up over Inception's"), text);
    assert.match(text, /^bn-x5 +1 +0 +- +- +67\.00 +4000 +67\.00 +completed +2\.1e6 +73\.0%$/m);
    assert.equal(parseCsv(formatComparison(c2, 'csv'))?.rows[0].paper_speedup, '');
  });

  it('groups seeds regardless of fields that do not change training (tracking, checkpointing, data.path)', () => {
    const dir = copyRuns('mnist-bn-s1', 'mnist-bn-s2');
    const cfgFile = path.join(dir, 'mnist-bn-s2', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, Record<string, unknown>>;
    cfg.tracking.units = [5];
    cfg.training.checkpointEvery = 100;
    cfg.data.path = '/elsewhere';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const g = buildComparison(loadRuns(dir).runs);
    assert.deepEqual(
      section(g, 'mnist').rows.map((r) => [r.label, r.seeds]),
      [['mnist-bn', [1, 2]]],
    );
  });
});

describe('output formats', () => {
  const { runs, problems } = loadRuns(FIXTURES);
  const c = buildComparison(runs);

  it('text: one aligned table per dataset with the published numbers', () => {
    const text = formatComparison(c, 'text');
    const lines = text.split('\n');
    const title = lines.indexOf("dataset mnist; baseline mnist-baseline; target 90.00% (the baseline's best test accuracy)");
    assert.ok(title > 0);
    const table = lines.slice(title + 1, title + 7);
    // No paper columns where the paper published no numbers (MNIST): a footnote instead.
    assert.match(table[0], /^network +seeds +seed list +steps to target +speed-up +max acc % +at step +final acc % +status$/);
    // One run of dashes per column, under its header.
    const dashes = [...table[1].matchAll(/-+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
    assert.equal(dashes.length, 9);
    assert.equal(table[0].indexOf('status'), dashes[8].start);
    const rowBn = table.find((l) => l.startsWith('mnist-bn '));
    assert.ok(rowBn);
    // Left-aligned text starts with its column, right-aligned numbers end with theirs.
    assert.equal(rowBn.indexOf('1,2'), dashes[2].start);
    const cellsBn: [number, string][] = [
      [1, '2'],
      [3, '150 [100-200]'],
      [4, '2.67x [2.00-4.00]'],
      [5, '95.50 [95.00-96.00]'],
      [6, '450 [400-500]'],
      [7, '95.60 [95.10-96.10]'],
    ];
    for (const [i, cell] of cellsBn) {
      assert.equal(rowBn.indexOf(cell, dashes[i].start) + cell.length, dashes[i].end, cell);
    }
    assert.equal(rowBn.indexOf('completed'), dashes[8].start);
    // seeds counts the runs (seed 0 is one seed, not none); the seed list names them.
    assert.match(text, /^mnist-baseline \* +1 +1 +400 +1\.00x +90\.00 +400 +89\.00 +completed/m);
    assert.match(text, /^mnist-bn-lr5 +1 +1 +never +- +50\.00 +100 +- +diverged at step 137/m);
    assert.match(text, /^mnist-bn-killed +1 +3 +100 +4\.00x +93\.00 +200 +- +incomplete at step 200 \(no summary\.json\)/m);
    assert.match(text, /^inception \* +1 +0 +4000 +1\.00x +62\.00 +4000 +62\.00 +completed +31\.0e6 +1\.00x +72\.2%$/m);
    assert.match(text, /^bn-x5 +1 +0 +2000 +2\.00x +67\.00 +4000 +67\.00 +completed +2\.1e6 +14\.76x +73\.0%$/m);
    assert.match(text, /^bn-x5-sigmoid +1 +0 +never +- +58\.00 +4000 +58\.00 +completed +never +- +69\.8%$/m);
    assert.match(text, /^fashion-bn +1 +1 +- +- +80\.00 +200 +80\.00 +completed$/m);
    assert.match(
      text,
      /^network +seeds +seed list +steps to target +speed-up +max acc % +at step +final acc % +status +paper: steps to 72\.2% +paper: speed-up +paper: max acc$/m,
    );
    assert.match(text, /^final acc = the evaluation after the last step \(BN nets: Algorithm 2 population statistics/m);
    assert.match(text, /paper, Figure 1\(a\) \(MNIST\): no numbers published/);
    assert.match(text, /mean \[min-max\] over seeds/);
  });

  it('csv: one row per group, numbers unformatted', () => {
    const csv = formatComparison(c, 'csv');
    const t = parseCsv(csv);
    assert.ok(t);
    assert.deepEqual(t.columns, [...CSV_COLUMNS]);
    assert.deepEqual(t.dropped, []);
    assert.equal(t.rows.length, 8);
    const bn = t.rows.find((r) => r.network === 'mnist-bn');
    assert.ok(bn);
    assert.deepEqual(
      [bn.dataset, bn.baseline, bn.target, bn.seeds, bn.runs, bn.reached, bn.steps_to_target, bn.steps_to_target_min, bn.steps_to_target_max],
      ['mnist', 'mnist-baseline', '0.9', '1 2', '2', '2', '150', '100', '200'],
    );
    assert.deepEqual(
      [bn.speedup, bn.speedup_min, bn.speedup_max, bn.max_accuracy, bn.max_accuracy_min, bn.max_accuracy_max],
      ['2.66666666667', '2', '4', '0.955', '0.95', '0.96'],
    );
    const x5 = t.rows.find((r) => r.network === 'bn-x5');
    assert.deepEqual([x5?.paper, x5?.paper_steps_to_target, x5?.paper_target, x5?.paper_max_accuracy], ['bn-x5', '2100000', '0.722', '0.73']);
    const lr5 = t.rows.find((r) => r.network === 'mnist-bn-lr5');
    assert.deepEqual([lr5?.reached, lr5?.steps_to_target, lr5?.status], ['0', '', 'diverged at step 137']);
  });

  it('json: the whole comparison and the problems', () => {
    const j = JSON.parse(formatComparison(c, 'json', problems)) as { sections: Section[]; notes: string[]; problems: string[] };
    assert.deepEqual(
      j.sections.map((s) => s.dataset),
      ['fashion-mnist', 'imagenet', 'mnist'],
    );
    const bn = row(j.sections[2], 'mnist-bn');
    assert.deepEqual(bn.stepsToTarget, { mean: 150, min: 100, max: 200, n: 2 });
    assert.deepEqual(
      bn.runs.map((r) => [r.id, r.seed, r.stepsToTarget, r.speedup]),
      [
        ['mnist-bn-s1', 1, 200, 2],
        ['mnist-bn-s2', 2, 100, 4],
      ],
    );
    assert.equal(j.problems.length, 2);
  });

  it('markdown: a pipe table per dataset', () => {
    const md = formatComparison(c, 'markdown');
    assert.match(md, /^### mnist$/m);
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    assert.equal(rows.length, 3 * 2 + 8);
    // 7 columns, and 3 more (the paper's) for ImageNet.
    const cellCounts = rows.map((r) => r.replace(/\\\|/g, '').split('|').length - 2);
    assert.deepEqual(cellCounts, [9, 9, 9, 12, 12, 12, 12, 12, 9, 9, 9, 9, 9, 9]);
    assert.match(md, /^\| mnist-baseline \\\* \| 1 \| 1 \| 400 \| 1\.00x \| 90\.00 \|/m);
    assert.match(md, /^\| bn-x5 \| 1 \| 0 \| 2000 \| 2\.00x \| 67\.00 \| 4000 \| 67\.00 \| completed \| 2\.1e6 \| 14\.76x \| 73\.0% \|$/m);
  });

  it('parses --target', () => {
    assert.equal(parseTarget('0.722'), 0.722);
    assert.equal(parseTarget('72.2%'), 0.722);
    assert.equal(parseTarget('72.2'), 0.722);
    for (const bad of ['', 'abc', '0', '-0.5', '101%']) assert.throws(() => parseTarget(bad), /--target/);
  });
});

describe('compareCommand', () => {
  it('prints the table, one stderr line per problem and note, and exits 0', async () => {
    const { io, out, err } = capture();
    const code = await compareCommand(FIXTURES, { plots: false }, io);
    assert.equal(code, 0);
    assert.equal(out.length, 1);
    assert.match(out[0], /^dataset fashion-mnist; no baseline$/m);
    assert.deepEqual(
      err.map((l) => l.replace(FIXTURES + path.sep, '').replace(/:.*/, '')),
      ['mnist-bn-killed', 'no-metrics', 'runs on 3 datasets (fashion-mnist, imagenet, mnist)', 'fashion-mnist', 'mnist'],
    );
    for (const l of err) assert.ok(!l.includes('\n'));
  });

  it('writes --out and every format', async () => {
    const dir = tmpDir();
    for (const format of ['text', 'csv', 'json', 'markdown'] as const) {
      const { io, out, err } = capture();
      const file = path.join(dir, 'sub', `table.${format}`);
      assert.equal(await compareCommand(FIXTURES, { format, out: file, plots: false }, io), 0);
      assert.deepEqual(out, []);
      assert.equal(err[err.length - 1], `table: ${file}`);
      const { runs, problems } = loadRuns(FIXTURES);
      assert.equal(fs.readFileSync(file, 'utf8'), formatComparison(buildComparison(runs), format, problems));
    }
  });

  it('an empty directory: one line, exit 1', async () => {
    const { io, out, err } = capture();
    const dir = tmpDir();
    assert.equal(await compareCommand(dir, {}, io), 1);
    assert.deepEqual(out, []);
    assert.deepEqual(err, [`bnrun: ${dir}: no runs found (a run directory holds config.json and metrics.csv); nothing to compare`]);
    assert.ok(!fs.existsSync(path.join(dir, 'figures')));
  });

  it('only unreadable runs: their lines and one more, exit 1', async () => {
    const { io, err } = capture();
    const dir = copyRuns('no-metrics');
    assert.equal(await compareCommand(dir, {}, io), 1);
    assert.equal(err.length, 2);
    assert.match(err[0], /no-metrics: skipped: no metrics\.csv/);
    assert.match(err[1], /none of the 1 run directory could be read/);
  });

  it('a missing directory, and --baseline naming nothing', async () => {
    const a = capture();
    assert.equal(await compareCommand(path.join(tmpDir(), 'nope'), {}, a.io), 1);
    assert.match(a.err[0], /nope: not found$/);
    const b = capture();
    assert.equal(await compareCommand(FIXTURES, { baseline: 'nope', plots: false }, b.io), 2);
    assert.match(b.err[b.err.length - 1], /^bnrun: --baseline nope: no run group has that name/);
    assert.deepEqual(b.out, []);
  });

  it('writes the figures to <dir>/figures by default', async () => {
    const dir = copyRuns('mnist-baseline', 'mnist-bn-s1');
    const { io, err } = capture();
    assert.equal(await compareCommand(dir, {}, io), 0);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'figures')).sort(), ['figure1a.png', 'figure1a.svg', 'figure1bc.png', 'figure1bc.svg']);
    assert.match(err[err.length - 1], /^figures: figure1a, figure1bc \(\.svg, \.png\) in /);
    // A second compare does not take figures/ for a run.
    const again = capture();
    assert.equal(await compareCommand(dir, { plots: false }, again.io), 0);
    assert.deepEqual(again.err, []);
  });
});
