/**
 * Stopping a worker (real redis-server, real MNIST, through the CLI): SIGTERM
 * mid-run checkpoints the run and hands its job back to the queue, and the
 * worker exits 0; a worker started again on the same work directory finds
 * the checkpoint and resumes the run from it, so the sweep's run has one
 * resume and every evaluation step once. Ctrl-C on a queue sweep stops only
 * the following: the job stays queued, the worker finishes it, and the same
 * command collects it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCsv, ROOT } from '../cli';
import { Cli, RedisServer, until } from './redis';

let tmp: string;
let redis: RedisServer;
const live: Cli[] = [];

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-queue-stop-'));
  redis = await RedisServer.start();
});
after(async () => {
  for (const c of live) await c.stop('SIGKILL');
  await redis.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const stepsOf = (dir: string) => readCsv(path.join(dir, 'metrics.csv')).map((r) => Number(r.step));

describe('stopping a worker or a queue sweep (real redis-server, real MNIST)', () => {
  it('checkpoints, puts the job back, exits 0; the worker restarted on its work directory resumes the run', async () => {
    const cfg = path.join(tmp, 'stop-me.json');
    const training = { steps: 3000, evalEvery: 250, checkpointEvery: 50, populationBatches: 5 };
    fs.writeFileSync(cfg, JSON.stringify({ extends: path.join(ROOT, 'configs', 'ci', 'mnist-bn.json'), name: 'stop-me', training }));
    const out = path.join(tmp, 'out');
    const work = path.join(tmp, 'work');
    const worker = new Cli(['worker', '--queue', redis.url(), '--jobs', '1', '--work', work]);
    const sweep = new Cli(['sweep', cfg, '--queue', redis.url(), '--out', out, '--no-progress']);
    live.push(worker, sweep);

    // A bound against a hang, not a timing check.
    assert.ok(await until(() => /stop-me +step 250\/3000/.test(sweep.stdout), 300_000), sweep.output + worker.output);
    worker.proc.kill('SIGTERM');
    const stopped = await worker.exited;
    assert.equal(stopped.code, 0, worker.output);
    assert.match(worker.stdout, /^stop-me +interrupted at step \d+/m);
    assert.match(worker.stdout, /^stop-me: back in the queue$/m);
    assert.match(sweep.stdout, /^stop-me +back in the queue: worker .* stopped \(SIGTERM\) at step \d+/m);

    const again = new Cli(['worker', '--queue', redis.url(), '--jobs', '1', '--work', work]);
    live.push(again);
    const { code } = await sweep.exited;
    assert.equal(code, 0, sweep.output + again.output);
    const resumed = /^stop-me +resumed at step (\d+)\/3000$/m.exec(sweep.stdout);
    assert.ok(resumed && Number(resumed[1]) > 0, sweep.stdout);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'stop-me', 'summary.json'), 'utf8')) as { status: string; resumedAt: number[] };
    assert.equal(summary.status, 'completed');
    assert.deepEqual(summary.resumedAt, [Number(resumed?.[1])]);
    assert.deepEqual(
      stepsOf(path.join(out, 'stop-me')),
      Array.from({ length: 13 }, (_, i) => i * 250),
    );
    await again.stop('SIGTERM');
  });

  it('Ctrl-C on the sweep leaves the job to the workers; the same command collects the finished run', async () => {
    const cfg = path.join(tmp, 'detach.json');
    const training = { steps: 1000, evalEvery: 250, populationBatches: 5 };
    fs.writeFileSync(cfg, JSON.stringify({ extends: path.join(ROOT, 'configs', 'ci', 'mnist-bn.json'), name: 'detach', training }));
    const out = path.join(tmp, 'out-detach');
    const worker = new Cli(['worker', '--queue', redis.url(), '--jobs', '1', '--work', path.join(tmp, 'work-detach')]);
    const sweep = new Cli(['sweep', cfg, '--queue', redis.url(), '--out', out, '--no-progress']);
    live.push(worker, sweep);
    assert.ok(await until(() => /detach +started/.test(sweep.stdout), 300_000), sweep.output + worker.output);
    sweep.proc.kill('SIGINT');
    assert.equal((await sweep.exited).code, 130, sweep.output);
    assert.match(sweep.stderr, /^SIGINT: no longer following the queue; the jobs stay queued and the workers keep running them$/m);
    assert.match(
      sweep.stderr,
      /^bnrun: SIGINT: sweep stopped after .*; 1 run left unfinished \(their jobs stay queued; the workers keep running them\); rerun `npx bnrun sweep .*` to continue$/m,
    );
    assert.ok(await until(() => /^detach +completed/m.test(worker.stdout), 300_000), worker.output);
    const again = new Cli(['sweep', cfg, '--queue', redis.url(), '--out', out, '--no-progress']);
    live.push(again);
    assert.equal((await again.exited).code, 0, again.output);
    assert.match(again.stdout, /^detach +completed \(/m);
    assert.deepEqual(stepsOf(path.join(out, 'detach')), [0, 250, 500, 750, 1000]);
    await worker.stop('SIGTERM');
  });
});
