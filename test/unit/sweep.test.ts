/**
 * The parts of `bnrun sweep` that need no training: finding configs, naming
 * run directories, reading what a run directory holds, and turning events
 * into display lines. The whole command runs on real MNIST in
 * test/smoke/sweep.test.ts.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { clock, LineDisplay, LiveDisplay } from '../../src/sweep/display';
import { RunSpec } from '../../src/sweep/events';
import { findConfigFiles, makeRunSpec, planSweep } from '../../src/sweep/plan';
import { inspectRunDir } from '../../src/sweep/state';
import { expectError } from '../expect-error';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'results');

let tmp: string;
before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-sweep-unit-'))));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const spec = (id: string, dir: string, expect: 'train' | 'diverge' = 'train'): RunSpec => ({
  id,
  name: id,
  seed: 0,
  configFile: 'x.json',
  dir,
  steps: 300,
  expect,
});

describe('sweep plan', () => {
  it("finds a directory's config files, sorted, without subdirectories, each file once", () => {
    const dir = path.join(tmp, 'cfgs');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    for (const f of ['b.yaml', 'a.json', 'c.yml', 'notes.txt', '.hidden.json', 'sub/d.json']) fs.writeFileSync(path.join(dir, f), '{}');
    const found = findConfigFiles([dir, path.join(dir, 'a.json')]);
    assert.deepEqual(
      found.map((f) => path.relative(dir, f)),
      ['a.json', 'b.yaml', 'c.yml'],
    );
  });

  it("names the run at the config's own seed <name>, any other <name>-seed<k>", () => {
    const config = loadConfig(path.join(ROOT, 'configs', 'ci', 'mnist-bn.json'));
    assert.equal(config.seed, 1);
    assert.equal(makeRunSpec('f.json', config, 1, 1, 'out').dir, path.join('out', 'ci-mnist-bn'));
    assert.equal(makeRunSpec('f.json', config, 0, 1, 'out').dir, path.join('out', 'ci-mnist-bn-seed0'));
    const plan = planSweep([path.join(ROOT, 'configs', 'ci')], { seeds: [0, 1], out: path.join(tmp, 'never') });
    assert.deepEqual(
      plan.runs.map((r) => [r.id, r.seed]),
      [
        ['ci-mnist-baseline-seed0', 0],
        ['ci-mnist-baseline', 1],
        ['ci-mnist-bn-seed0', 0],
        ['ci-mnist-bn', 1],
      ],
    );
    assert.ok(!fs.existsSync(path.join(tmp, 'never')), 'planning wrote something');
  });

  it('refuses an empty input list and a directory without configs', () => {
    expectError(() => planSweep([], { out: tmp }), ConfigError, 2, ['config files or directories']);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expectError(() => planSweep([empty], { out: tmp }), ConfigError, 2, [empty, 'no config files']);
  });
});

describe('sweep run directory state', () => {
  it('skips completed and diverged runs, resumes a killed one, starts a new one', () => {
    const done = inspectRunDir(spec('mnist-baseline', path.join(FIXTURES, 'mnist-baseline')));
    assert.equal(done.kind, 'finished');
    assert.equal(done.kind === 'finished' && done.outcome.status, 'completed');
    assert.equal(done.kind === 'finished' && done.outcome.ok, true);
    assert.equal(inspectRunDir(spec('killed', path.join(FIXTURES, 'mnist-bn-killed'))).kind, 'unfinished');
    assert.equal(inspectRunDir(spec('new', path.join(tmp, 'nothing-here'))).kind, 'new');
    const diverged = fs
      .readdirSync(FIXTURES, { recursive: true })
      .map(String)
      .find((f) => f.endsWith('summary.json') && /"status": "diverged"/.test(fs.readFileSync(path.join(FIXTURES, f), 'utf8')));
    assert.ok(diverged, 'a diverged fixture');
    const dir = path.join(FIXTURES, path.dirname(diverged));
    for (const [expect, ok] of [
      ['train', false],
      ['diverge', true],
    ] as const) {
      const s = inspectRunDir(spec('d', dir, expect));
      assert.ok(s.kind === 'finished' && s.outcome.status === 'diverged' && s.outcome.ok === ok, `${expect}: ${JSON.stringify(s)}`);
    }
  });
});

describe('sweep display', () => {
  it('formats durations', () => {
    assert.deepEqual([clock(0), clock(75), clock(3725)], ['0:00', '1:15', '1:02:05']);
  });

  it('prints one line per event without a terminal', () => {
    const lines: string[] = [];
    const d = new LineDisplay([spec('a', 'out/a'), spec('longer', 'out/longer')], (l) => lines.push(l));
    d.event({ kind: 'launched', run: 'a', resume: false });
    d.event({ kind: 'started', run: 'a', fromStep: 0, total: 300 });
    d.event({ kind: 'progress', run: 'a', step: 50 });
    d.event({ kind: 'evaluated', run: 'a', step: 100, accuracy: 0.91234, testLoss: 0.3, trainLoss: 0.25 });
    d.event({ kind: 'started', run: 'longer', fromStep: 120, total: 300 });
    const outcome = {
      status: 'completed' as const,
      ok: true,
      step: 300,
      finalAccuracy: 0.95,
      best: { accuracy: 0.96, step: 200 },
      wallTimeS: 75,
      message: null,
    };
    d.event({ kind: 'finished', run: 'a', outcome });
    d.event({ kind: 'skipped', run: 'longer', outcome });
    d.event({ kind: 'finished', run: 'longer', outcome: { ...outcome, status: 'failed', ok: false, message: 'exit 1: bnrun: oops' } });
    assert.deepEqual(lines, [
      'a       started (300 steps)',
      'a       step 100/300  test acc 91.23%  train loss 0.2500',
      'longer  resumed at step 120/300',
      'a       completed (final 95.00%, best 96.00% at step 200, 1:15 wall)',
      'longer  skipped: completed earlier (final 95.00%, best 96.00% at step 200, 1:15 wall)',
      'longer  failed: exit 1: bnrun: oops',
    ]);
  });

  it('redraws one line per run in place on a terminal', () => {
    const out = Object.assign(new PassThrough(), { columns: 100, rows: 40 });
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const d = new LiveDisplay([spec('a', 'out/a'), spec('b', 'out/b')], out as unknown as NodeJS.WriteStream);
    const first = text;
    assert.match(first, /0\/2 done, 0 running, 2 queued/);
    d.event({ kind: 'launched', run: 'a', resume: false });
    d.event({ kind: 'started', run: 'a', fromStep: 0, total: 300 });
    d.event({ kind: 'evaluated', run: 'a', step: 100, accuracy: 0.5, testLoss: 1, trainLoss: 1 });
    d.event({
      kind: 'finished',
      run: 'b',
      outcome: { status: 'diverged', ok: true, step: 7, finalAccuracy: null, best: null, wallTimeS: null, message: null },
    });
    d.close();
    const redraw = text.slice(first.length);
    // Back up over the three lines drawn (header and two runs), then rewrite them.
    assert.ok(redraw.startsWith('\x1b[3F'), JSON.stringify(redraw));
    const last = redraw
      .slice(redraw.lastIndexOf('\x1b[3F'))
      .split('\n')
      .map((l) => l.replace(/\x1b\[[0-9]*[A-Za-z]/g, '').trimEnd());
    assert.match(last[0], /1\/2 done, 1 running, 0 queued/);
    assert.match(last[1], /^a +100\/300 +50\.00% +running +ETA \d+:\d\d$/);
    assert.match(last[2], /^b +7\/300 +- +diverged +diverged at step 7 \(expected\)$/);
  });
});
