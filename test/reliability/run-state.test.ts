/**
 * The states a run directory can be in when bnrun is pointed at it again:
 * stopped by a signal during the final evaluations or Algorithm 2's
 * population pass, completed, missing its metrics.csv, or holding temporary
 * files of killed writes. Real MNIST runs through the CLI.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, bnrun, readCsv, ROOT } from '../cli';

let tmp: string;
let config: string;

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args, '--no-progress'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function summaryOf(dir: string): { status: string; steps: number; final: { accuracy: number } | null; resumedAt: number[] } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as ReturnType<typeof summaryOf>;
}

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

/** One line on stderr, the exit code, and the run directory as it was. */
function expectRefusal(r: { status: number | null; stderr: string }, code: number, mentions: RegExp): void {
  assert.equal(r.status, code, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], mentions);
}

describe('run directories in every state (real MNIST runs)', () => {
  let completed: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-state-'));
    config = path.join(tmp, 'state.json');
    // A population pass long enough that a signal right after the last step lands in the final passes.
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'configs/ci/mnist-bn.json'),
        name: 'state-test',
        training: { steps: 20, evalEvery: 10, checkpointEvery: 10, populationBatches: 1000 },
      }),
    );
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('SIGINT or SIGTERM during the final passes writes summary.json, releases the lock, says how to resume, exits 130/143', async () => {
    const dir = path.join(tmp, 'final-passes');
    const child = start(['train', config, '--out', dir]);
    const done = finished(child);
    // The last step's evaluation row is written just before the final passes begin.
    for (let i = 0; i < 6000; i++) {
      const metrics = path.join(dir, 'metrics.csv');
      if (fs.existsSync(metrics) && readCsv(metrics).some((r) => r.step === '20')) break;
      await sleep(20);
    }
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, `exit ${r.code} signal ${r.signal}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^bnrun: SIGINT (during (the final evaluation|Algorithm 2's population pass) after|at) step 20: .*`npx bnrun train --resume /);
    assert.equal(summaryOf(dir).status, 'interrupted');
    assert.equal(summaryOf(dir).final, null);
    assert.ok(!fs.existsSync(path.join(dir, '.lock')), 'the lock was left behind');

    // The resume goes straight to the final passes; SIGTERM there stops it too.
    const again = start(['train', '--resume', dir]);
    const stopped = finished(again);
    let out = '';
    again.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 6000 && !out.includes('resuming:'); i++) await sleep(20);
    again.kill('SIGTERM');
    const t = await stopped;
    assert.equal(t.code, 143, `exit ${t.code} signal ${t.signal}: ${t.stderr}`);
    assert.match(t.stderr.trim(), /^bnrun: SIGTERM (during .* after step 20|before training started)[^\n]*$/);
    assert.equal(summaryOf(dir).status, 'interrupted');
    assert.ok(!fs.existsSync(path.join(dir, '.lock')));

    const resumed = bnrun(['train', '--resume', dir, '--no-progress']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const s = summaryOf(dir);
    assert.equal(s.status, 'completed');
    assert.ok(s.final && s.final.accuracy > 0.5, JSON.stringify(s.final));
    completed = dir;
  });

  it('--resume of a completed run says so, changes nothing and exits 0; a new run there is refused', () => {
    assert.ok(completed, 'needs the run of the previous test');
    const before = snapshot(completed);
    const r = bnrun(['train', '--resume', completed, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /has already completed.*nothing to do/);
    assert.deepEqual(snapshot(completed), before, 'summary.json or another file changed');
    const fresh = bnrun(['train', config, '--out', completed, '--no-progress']);
    expectRefusal(fresh, 2, /already completed; choose another --out/);
    assert.deepEqual(snapshot(completed), before);
  });

  it('--resume after metrics.csv was deleted is refused, nothing touched', () => {
    const dir = path.join(tmp, 'no-metrics');
    fs.cpSync(completed, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'summary.json'));
    fs.rmSync(path.join(dir, 'metrics.csv'));
    const before = snapshot(dir);
    expectRefusal(bnrun(['train', '--resume', dir, '--no-progress']), 1, /metrics\.csv is missing, so the evaluations up to step 20 are lost/);
    assert.deepEqual(snapshot(dir), before);
    // Rows lost from a metrics.csv that is still there are caught the same way.
    const rows = fs.readFileSync(path.join(completed, 'metrics.csv'), 'utf8').split('\n');
    fs.writeFileSync(path.join(dir, 'metrics.csv'), [rows[0], rows[1], ''].join('\n'));
    expectRefusal(bnrun(['train', '--resume', dir, '--no-progress']), 1, /metrics\.csv lacks the evaluations at step 10, 20/);
  });

  it('temporary files of killed writes are removed when a run resumes', () => {
    const dir = path.join(tmp, 'leftovers');
    fs.cpSync(completed, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'summary.json'));
    // pid_max is at most 2^22, so these writers cannot be alive.
    const leftovers = ['.checkpoint.bin.4194400.tmp', '.summary.json.4194401.tmp', '.metrics.csv.4194402.tmp', '.lock.4194403.0123456789abcdef.tmp'];
    for (const f of leftovers) fs.writeFileSync(path.join(dir, f), Buffer.alloc(1000));
    const r = bnrun(['train', '--resume', dir, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    for (const f of leftovers) assert.ok(!fs.existsSync(path.join(dir, f)), `${f} was left`);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
    );
  });
});
