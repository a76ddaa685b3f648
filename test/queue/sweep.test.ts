/**
 * The "Done when", on a real redis-server and real MNIST through the
 * CLI: `bnrun sweep --queue` of 2 configs x 3 seeds served by two
 * `bnrun worker`s with work directories of their own (two machines), one of
 * them SIGKILLed mid-run. Its run goes back to the queue when its lock
 * expires, the other worker restarts it (it cannot reach the dead one's
 * checkpoint), and every run lands once in the sweep's --out with each
 * evaluation step logged once; the sweep prints the Figure 3 table and exits 0.
 * Then SIGTERM stops the surviving worker cleanly.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCsv, ROOT } from '../cli';
import { Cli, RedisServer, until } from './redis';

const STEPS = 1000;
const EVAL_EVERY = 200;
const EVAL_STEPS = Array.from({ length: STEPS / EVAL_EVERY + 1 }, (_, i) => i * EVAL_EVERY);

let tmp: string;
let redis: RedisServer;

function writeConfig(dir: string, base: 'mnist-bn' | 'mnist-baseline', name: string): void {
  const training = { steps: STEPS, evalEvery: EVAL_EVERY, checkpointEvery: 50, populationBatches: 20 };
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ extends: path.join(ROOT, 'configs', 'ci', `${base}.json`), name, training }));
}

/** Run directories under a worker's work directory (<work>/<job id>/<run>) that hold metrics. */
function workerRuns(work: string): string[] {
  if (!fs.existsSync(work)) return [];
  return fs
    .readdirSync(work)
    .flatMap((job) => (fs.statSync(path.join(work, job)).isDirectory() ? fs.readdirSync(path.join(work, job)).map((run) => path.join(work, job, run)) : []))
    .filter((d) => fs.existsSync(path.join(d, 'metrics.csv')));
}

const stepsOf = (dir: string) => readCsv(path.join(dir, 'metrics.csv')).map((r) => Number(r.step));

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-queue-'));
  redis = await RedisServer.start();
});
after(async () => {
  await redis.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('bnrun sweep --queue with two bnrun workers, one SIGKILLed mid-run (real redis-server, real MNIST)', () => {
  const procs: Cli[] = [];
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
  });

  it('lands all 6 runs once in --out, each evaluation step logged once, prints the table, exits 0', async () => {
    const cfgs = path.join(tmp, 'configs');
    fs.mkdirSync(cfgs);
    writeConfig(cfgs, 'mnist-bn', 'q-bn');
    writeConfig(cfgs, 'mnist-baseline', 'q-baseline');
    const out = path.join(tmp, 'out');
    const workA = path.join(tmp, 'work-a');
    const workB = path.join(tmp, 'work-b');
    const url = redis.url();
    const a = new Cli(['worker', '--queue', url, '--jobs', '1', '--work', workA]);
    const b = new Cli(['worker', '--queue', url, '--jobs', '1', '--work', workB]);
    const sweep = new Cli(['sweep', cfgs, '--seeds', '0,1,2', '--queue', url, '--out', out, '--no-progress']);
    procs.push(a, b, sweep);

    // Worker A mid-run: a run of its own past its first evaluations, not finished.
    const midRun = () => workerRuns(workA).find((d) => !fs.existsSync(path.join(d, 'summary.json')) && stepsOf(d).some((s) => s >= EVAL_EVERY));
    // A bound against a hang, not a timing check.
    assert.ok(await until(() => midRun() !== undefined, 300_000), `worker A never got mid-run:\n${a.output}\n${sweep.output}`);
    const killed = path.basename(midRun() as string);
    a.proc.kill('SIGKILL');
    await a.exited;

    const { code } = await sweep.exited;
    assert.equal(code, 0, `sweep:\n${sweep.output}\nworker B:\n${b.output}`);

    // All six runs, each once, each completed with evaluations 0, 200, ..., 1000 logged once; no checkpoint came back.
    const runs = fs
      .readdirSync(out)
      .filter((d) => d !== 'figures')
      .sort();
    assert.equal(runs.length, 6, runs.join(', '));
    assert.equal(new Set(runs.map((r) => r.replace(/-seed\d$/, ''))).size, 2);
    for (const run of runs) {
      const dir = path.join(out, run);
      const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string };
      assert.equal(summary.status, 'completed', run);
      assert.deepEqual(stepsOf(dir), EVAL_STEPS, `${run}: every evaluation step once`);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['activations.csv', 'config.json', 'metrics.csv', 'summary.json'], run);
    }
    // The killed run went back to the queue and was restarted from step 0 by worker B, which lacks A's checkpoint.
    assert.match(sweep.stdout, new RegExp(`^${killed} +back in the queue: its worker stopped answering`, 'm'), sweep.stdout);
    assert.match(b.stdout, new RegExp(`^${killed} +started \\(${STEPS} steps\\)$`, 'm'), b.stdout);
    assert.ok(fs.readdirSync(path.join(out, killed)).every((f) => !f.includes('checkpoint')));
    // The same display as a local sweep, then the same Figure 3 table: three seeds a row.
    assert.match(sweep.stdout, /^sweep: 6 runs \(2 configs x 3 seeds\), on the queue at redis:\/\/127\.0\.0\.1:\d+ -> /m);
    assert.match(sweep.stdout, /^sweep: 6 completed in /m);
    assert.match(sweep.stdout, /^q-baseline \* +3 +0,1,2 /m);
    assert.match(sweep.stdout, /^q-bn +3 +0,1,2 /m);
    assert.ok(fs.existsSync(path.join(out, 'figures', 'figure1a.png')));

    // SIGTERM: the idle worker stops cleanly.
    const stopped = await b.stop('SIGTERM');
    assert.equal(stopped.code, 0, b.output);
    assert.match(b.stdout, /stopped$/m);
  });
});
