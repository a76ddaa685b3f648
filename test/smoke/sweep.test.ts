/**
 * `bnrun sweep` through the real CLI on real MNIST: the two CI configs in
 * parallel, a rerun that skips them, SIGINT mid-sweep and a rerun that
 * resumes (every evaluation logged once), seeds named so `bnrun compare`
 * groups them into one row, exit codes for failed and diverged runs, and bad
 * input refused before anything starts.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, bnrun, readCsv, ROOT } from '../cli';

let tmp: string;

const sweep = (args: string[]) => bnrun(['sweep', ...args, '--no-progress']);

/** Writes a config extending a CI config with `patch` over it. */
function config(dir: string, file: string, base: 'mnist-bn' | 'mnist-baseline', patch: object): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, file);
  fs.writeFileSync(p, JSON.stringify({ extends: path.join(ROOT, 'configs', 'ci', `${base}.json`), ...patch }));
  return p;
}

const summary = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string; resumedAt: number[] };
const steps = (dir: string) => readCsv(path.join(dir, 'metrics.csv')).map((r) => Number(r.step));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stderr lines that are errors ("bnrun: ..."). */
const errors = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('bnrun:'));

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-sweep-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('bnrun sweep configs/ci/ (real MNIST)', () => {
  let out: string;
  let first: ReturnType<typeof sweep>;

  before(() => {
    out = path.join(tmp, 'ci');
    first = sweep(['configs/ci/', '--jobs', '2', '--out', out]);
  });

  it('runs both configs, two at a time, each to completion in <out>/<name>', () => {
    assert.equal(first.status, 0, first.stderr);
    for (const name of ['ci-mnist-baseline', 'ci-mnist-bn']) {
      const dir = path.join(out, name);
      assert.equal(summary(dir).status, 'completed');
      assert.deepEqual(steps(dir), [0, 100, 200, 300]);
    }
    // Both runs were under way at once: each started before either finished.
    const lines = first.stdout.split('\n');
    const started = lines.map((l, i) => (/ started \(300 steps\)$/.test(l) ? i : -1)).filter((i) => i >= 0);
    const finished = lines.findIndex((l) => / completed \(/.test(l));
    assert.equal(started.length, 2, first.stdout);
    assert.ok(
      started.every((i) => i < finished),
      first.stdout,
    );
    // One line per evaluation per run.
    assert.equal(lines.filter((l) => /^ci-mnist-bn +step \d+\/300 +test acc/.test(l)).length, 4, first.stdout);
    // The silent stretch after the last step is said: the BN run's final evaluations and its population pass, the baseline's one evaluation.
    assert.match(first.stdout, /^ci-mnist-bn +step 300\/300 +population statistics 0\/50 \(Algorithm 2\)$/m);
    assert.equal(lines.filter((l) => /^ci-mnist-bn +step 300\/300 +final evaluation on the test set/.test(l)).length, 2, first.stdout);
    assert.match(first.stdout, /^ci-mnist-baseline +step 300\/300 +final evaluation on the test set$/m);
    assert.doesNotMatch(first.stdout, /^ci-mnist-baseline .*population/m);
  });

  it("prints bnrun compare's Figure 3 table of the sweep and writes the figures", () => {
    const table = bnrun(['compare', out, '--no-plots']);
    assert.equal(table.status, 0, table.stderr);
    assert.ok(first.stdout.includes(table.stdout), `the sweep's table differs from compare's:\n${first.stdout}`);
    assert.match(table.stdout, /ci-mnist-baseline \*/);
    for (const f of ['figure1a.png', 'figure1a.svg', 'figure1bc.png']) assert.ok(fs.existsSync(path.join(out, 'figures', f)), f);
  });

  it('skips both runs on a rerun and changes nothing', () => {
    const before = ['ci-mnist-baseline', 'ci-mnist-bn'].map((n) => fs.readFileSync(path.join(out, n, 'metrics.csv'), 'utf8'));
    const again = sweep(['configs/ci/', '--jobs', '2', '--out', out]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /ci-mnist-baseline +skipped: completed earlier/);
    assert.match(again.stdout, /ci-mnist-bn +skipped: completed earlier/);
    assert.doesNotMatch(again.stdout, /started|resumed/);
    const after = ['ci-mnist-baseline', 'ci-mnist-bn'].map((n) => fs.readFileSync(path.join(out, n, 'metrics.csv'), 'utf8'));
    assert.deepEqual(after, before);
  });
});

describe('bnrun sweep: SIGINT mid-sweep, then a rerun resumes', () => {
  it('stops every run with a checkpoint, exits 130 with the rerun hint, and the rerun completes each step once', async () => {
    const cfgs = path.join(tmp, 'sigint-configs');
    // Long enough that SIGINT lands mid-training even on a fast machine.
    const training = { steps: 1500, evalEvery: 150, checkpointEvery: 50, populationBatches: 20 };
    config(cfgs, 'bn.json', 'mnist-bn', { name: 'sig-bn', training });
    config(cfgs, 'baseline.json', 'mnist-baseline', { name: 'sig-baseline', training });
    const out = path.join(tmp, 'sigint');
    const args = [BIN, 'sweep', cfgs, '--jobs', '2', '--out', out, '--no-progress'];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    let done = false;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((done = true), resolve(code))));
    // Interrupt once both runs have logged step 150: mid-training, past a checkpoint.
    const logged = (name: string) => fs.existsSync(path.join(out, name, 'metrics.csv')) && steps(path.join(out, name)).some((s) => s >= 150);
    // A generous bound, not a timing check: a loaded machine may take minutes to get there.
    for (let i = 0; i < 12000 && !done && !(logged('sig-bn') && logged('sig-baseline')); i++) await sleep(50);
    assert.ok(logged('sig-bn') && logged('sig-baseline'), 'the runs never reached step 150');
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    const errs = errors(stderr);
    assert.equal(errs.length, 1, stderr);
    assert.match(errs[0], /^bnrun: SIGINT: .*rerun `npx bnrun sweep .*sigint-configs --jobs 2 --out .*sigint --no-progress` to continue$/);
    for (const name of ['sig-bn', 'sig-baseline']) {
      const s = summary(path.join(out, name));
      assert.equal(s.status, 'interrupted', name);
    }

    const again = sweep([cfgs, '--jobs', '2', '--out', out]);
    assert.equal(again.status, 0, again.stderr);
    for (const name of ['sig-bn', 'sig-baseline']) {
      const dir = path.join(out, name);
      assert.match(again.stdout, new RegExp(`${name} +resumed at step [1-9]\\d*/1500`));
      assert.equal(summary(dir).status, 'completed');
      assert.equal(summary(dir).resumedAt.length, 1);
      assert.deepEqual(
        steps(dir),
        Array.from({ length: 11 }, (_, i) => i * 150),
        `${name}: every evaluation once`,
      );
    }
  });
});

describe('bnrun sweep: seeds', () => {
  it('names seed runs <name> (its own seed) and <name>-seed<k>, which compare groups into one row', () => {
    const cfgs = path.join(tmp, 'seed-configs');
    // mnist-bn.json's own seed is 1.
    const file = config(cfgs, 'seeds.json', 'mnist-bn', { name: 'seeds', training: { steps: 100, evalEvery: 50, populationBatches: 5 } });
    const out = path.join(tmp, 'seeds');
    const r = sweep([file, '--seeds', '1,2', '--jobs', '2', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), ['figures', 'seeds', 'seeds-seed2']);
    const seedOf = (d: string) => (JSON.parse(fs.readFileSync(path.join(out, d, 'config.json'), 'utf8')) as { seed: number }).seed;
    assert.equal(seedOf('seeds'), 1);
    assert.equal(seedOf('seeds-seed2'), 2);
    // Two seeds, two different curves.
    assert.notDeepEqual(
      readCsv(path.join(out, 'seeds', 'metrics.csv')).map((x) => x.test_accuracy),
      readCsv(path.join(out, 'seeds-seed2', 'metrics.csv')).map((x) => x.test_accuracy),
    );
    const cmp = bnrun(['compare', out, '--format', 'json', '--no-plots']);
    assert.equal(cmp.status, 0, cmp.stderr);
    const rows = (JSON.parse(cmp.stdout) as { sections: { rows: { name: string; seeds: number[] }[] }[] }).sections.flatMap((s) => s.rows);
    assert.deepEqual(
      rows.map((x) => [x.name, x.seeds]),
      [['seeds', [1, 2]]],
    );
    // One row for both seeds: the seed count, then the seed list (compare's columns).
    assert.match(r.stdout, /^seeds +2 +1,2 /m);
  });
});

describe('bnrun sweep: exit codes', () => {
  const divergent = { optimizer: { learningRate: 1e38 }, training: { steps: 100, evalEvery: 50, populationBatches: 5 } };

  it('exits 1 naming a run that diverged unexpectedly, 0 when its config expects it', () => {
    const cfgs = path.join(tmp, 'diverge');
    const surprise = config(cfgs, 'surprise.json', 'mnist-baseline', { name: 'surprise', ...divergent });
    const expected = config(cfgs, 'expected.json', 'mnist-baseline', { name: 'expected', expect: 'diverge', ...divergent });
    const bad = sweep([surprise, '--out', path.join(tmp, 'div-out')]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stdout, /surprise +diverged at step \d+ \(unexpected/);
    assert.deepEqual(errors(bad.stderr).length, 1, bad.stderr);
    assert.match(errors(bad.stderr)[0], /^bnrun: surprise: diverged at step \d+/);
    const good = sweep([expected, '--out', path.join(tmp, 'div-out')]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /expected +diverged at step \d+ \(expected\)/);
    assert.equal(summary(path.join(tmp, 'div-out', 'expected')).status, 'diverged');
  });

  it('exits 1 naming a run that failed, after finishing the others', () => {
    const cfgs = path.join(tmp, 'fails');
    const missing = config(cfgs, 'missing.json', 'mnist-bn', { name: 'no-data', data: { dataset: 'mnist', path: path.join(tmp, 'no-such-dir') } });
    const ok = config(cfgs, 'ok.json', 'mnist-bn', { name: 'fine', training: { steps: 50, evalEvery: 50, populationBatches: 5 } });
    const out = path.join(tmp, 'fails-out');
    const r = sweep([missing, ok, '--jobs', '1', '--out', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /no-data +failed: exit 1: bnrun: .*no-such-dir/);
    assert.equal(summary(path.join(out, 'fine')).status, 'completed');
    assert.ok(
      errors(r.stderr).some((l) => /^bnrun: no-data: failed: .*no-such-dir/.test(l)),
      r.stderr,
    );
  });
});

describe('bnrun sweep: bad input starts nothing (exit 2, one line)', () => {
  function refused(args: string[], mentions: (string | RegExp)[], out: string): void {
    const r = sweep([...args, '--out', out]);
    assert.equal(r.status, 2, `exit ${r.status}: ${r.stdout}${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    for (const m of mentions) assert.match(lines[0], typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);
    assert.equal(r.stdout, '');
  }

  it('refuses a directory without configs, a missing path, bad --seeds and --jobs', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const out = path.join(tmp, 'never');
    refused([empty], [empty, 'no config files'], out);
    refused([path.join(tmp, 'nope.json')], ['nope.json', 'not found'], out);
    refused(['configs/ci/', '--seeds', '0,x'], ['--seeds', '"x"'], out);
    refused(['configs/ci/', '--seeds', '1,1'], ['--seeds lists 1 twice'], out);
    refused(['configs/ci/', '--jobs', '0'], ['--jobs'], out);
    assert.ok(!fs.existsSync(out));
  });

  it('refuses a bad config among good ones, naming file and field, before starting any', () => {
    const cfgs = path.join(tmp, 'one-bad');
    config(cfgs, 'a-good.json', 'mnist-bn', { name: 'good' });
    const bad = config(cfgs, 'b-bad.json', 'mnist-bn', { name: 'bad', training: { steps: -1 } });
    const out = path.join(tmp, 'one-bad-out');
    refused([cfgs], [bad, 'training.steps'], out);
    assert.ok(!fs.existsSync(out), 'a run was started');
  });

  it('refuses two configs with the same run name, and a seed run clashing with a name', () => {
    const cfgs = path.join(tmp, 'dupes');
    const a = config(cfgs, 'a.json', 'mnist-bn', { name: 'same' });
    const b = config(cfgs, 'b.json', 'mnist-baseline', { name: 'same' });
    const out = path.join(tmp, 'dupes-out');
    refused([a, b], [a, b, 'both are named "same"'], out);
    const c = config(path.join(tmp, 'dupes2'), 'c.json', 'mnist-bn', { name: 'same-seed2' });
    refused([a, c, '--seeds', '1,2'], [a, c, path.join(out, 'same-seed2')], out);
    assert.ok(!fs.existsSync(out));
  });

  it('refuses an --out that is a file, and a run directory holding another config', () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    refused(['configs/ci/'], ['--out', 'is a file'], file);
    const out = path.join(tmp, 'other');
    fs.mkdirSync(path.join(out, 'ci-mnist-bn'), { recursive: true });
    // The config as `bnrun train` would have written it, at another learning rate.
    const printed = bnrun(['validate', 'configs/ci/mnist-bn.json', '--print']);
    const resolved = JSON.parse(printed.stdout) as { optimizer: { learningRate: number } };
    resolved.optimizer.learningRate = 2;
    fs.writeFileSync(path.join(out, 'ci-mnist-bn', 'config.json'), JSON.stringify(resolved));
    refused(['configs/ci/mnist-bn.json'], [path.join(out, 'ci-mnist-bn'), 'different config', 'optimizer.learningRate'], out);
  });
});
