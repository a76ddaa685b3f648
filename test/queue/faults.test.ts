/**
 * Queue faults through the real CLI on a real redis-server: Redis unreachable
 * at start (one line naming the URL, exit 1), a password URL that is never
 * printed, a job a worker refuses (fails once, not retried, reported by the
 * sweep), a job whose config does not validate (fails once with the config
 * error), Redis restarted without its data mid-sweep (both sides say so,
 * retry, and the sweep still lands every run once), a run that fails on a
 * worker (retried with backoff, then reported), and rediss:// to a
 * redis-server serving TLS only, with a certificate from a CA the test makes.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../../src/queue/jobs';
import { readCsv, ROOT } from '../cli';
import { Cli, freePort, RedisServer, until } from './redis';

const PASSWORD = 'pa ss@w0rd:x/1';
const ENCODED = encodeURIComponent(PASSWORD);

let tmp: string;
const live: Cli[] = [];
const servers: RedisServer[] = [];

function cli(args: string[], env?: NodeJS.ProcessEnv): Cli {
  const c = new Cli(args, env);
  live.push(c);
  return c;
}

async function redis(extra: string[] = [], tls?: { cert: string; key: string }): Promise<RedisServer> {
  const r = await RedisServer.start(extra, tls);
  servers.push(r);
  return r;
}

/** A short MNIST config extending a CI config. */
function config(name: string, patch: Record<string, unknown> = {}, steps = 100): string {
  const file = path.join(tmp, 'configs', `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const training = { steps, evalEvery: 50, checkpointEvery: 50, populationBatches: 5 };
  fs.writeFileSync(file, JSON.stringify({ extends: path.join(ROOT, 'configs', 'ci', 'mnist-bn.json'), name, training, ...patch }));
  return file;
}

const errorLines = (text: string) => text.split('\n').filter((l) => l.startsWith('bnrun:'));
const stepsOf = (dir: string) => readCsv(path.join(dir, 'metrics.csv')).map((r) => Number(r.step));

before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-queue-faults-'))));
afterEach(async () => {
  for (const c of live.splice(0)) await c.stop('SIGKILL');
  for (const s of servers.splice(0)) await s.stop();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('queue faults (real redis-server)', () => {
  it('Redis unreachable at start: worker and sweep print one line naming the URL (password masked) and exit 1', async () => {
    const port = await freePort();
    const url = `redis://:${ENCODED}@127.0.0.1:${port}`;
    for (const args of [
      ['worker', '--queue', url, '--work', path.join(tmp, 'w-unreachable')],
      ['sweep', config('unreachable'), '--queue', url, '--out', path.join(tmp, 'out-unreachable'), '--no-progress'],
    ]) {
      const c = cli(args);
      const { code } = await c.exited;
      assert.equal(code, 1, c.output);
      assert.equal(c.stdout, '', c.output);
      assert.equal(c.stderr.trim().split('\n').length, 1, c.stderr);
      assert.match(c.stderr, new RegExp(`^bnrun: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: `));
      assert.ok(!c.output.includes(PASSWORD) && !c.output.includes(ENCODED), c.output);
    }
  });

  it('a Redis with a password: the sweep completes, and neither sweep nor worker prints the password; a wrong one is one line', async () => {
    const server = await redis(['--requirepass', PASSWORD]);
    const url = server.url(PASSWORD);
    const worker = cli(['worker', '--queue', url, '--jobs', '1', '--work', path.join(tmp, 'w-pass')]);
    // The sweep takes the URL from BNRUN_QUEUE; its rerun hint and messages must not leak it either.
    const sweep = cli(['sweep', config('with-pass'), '--out', path.join(tmp, 'out-pass'), '--no-progress'], { ...process.env, BNRUN_QUEUE: url });
    const { code } = await sweep.exited;
    assert.equal(code, 0, sweep.output + worker.output);
    assert.match(sweep.stdout, /on the queue at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ /);
    assert.match(worker.stdout, /from redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    assert.deepEqual(stepsOf(path.join(tmp, 'out-pass', 'with-pass')), [0, 50, 100]);
    await worker.stop('SIGTERM');
    for (const c of [sweep, worker]) assert.ok(!c.output.includes(PASSWORD) && !c.output.includes(ENCODED), c.output);

    const wrong = cli(['worker', '--queue', server.url('not-it'), '--work', path.join(tmp, 'w-wrong')]);
    assert.equal((await wrong.exited).code, 1, wrong.output);
    assert.equal(errorLines(wrong.stderr).length, 1, wrong.stderr);
    assert.match(wrong.stderr, /^bnrun: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*(WRONGPASS|invalid)/);
    assert.ok(!wrong.output.includes('not-it'), wrong.output);
  });

  it('a job the worker refuses (a data path outside --data-root) fails once, is not retried, and the sweep reports it (exit 1)', async () => {
    const server = await redis();
    const worker = cli(['worker', '--queue', server.url(), '--jobs', '1', '--work', path.join(tmp, 'w-refuse')]);
    const elsewhere = path.join(tmp, 'elsewhere');
    const sweep = cli([
      'sweep',
      config('refused', { data: { dataset: 'mnist', path: elsewhere } }),
      '--queue',
      server.url(),
      '--out',
      path.join(tmp, 'out-refuse'),
      '--no-progress',
    ]);
    const { code } = await sweep.exited;
    assert.equal(code, 1, sweep.output + worker.output);
    const errs = errorLines(sweep.stderr).filter((l) => l.startsWith('bnrun: refused:'));
    assert.equal(errs.length, 1, sweep.stderr);
    assert.match(
      errs[0],
      new RegExp(
        `^bnrun: refused: failed: job refused\\.[0-9a-f]+ config: data\\.path ${elsewhere}: this worker allows no data directories; start the worker with --data-root <dir> to allow it \\(job refused\\.[0-9a-f]+, 1 attempt\\)`,
      ),
    );
    assert.equal(worker.stdout.split('\n').filter((l) => / refused: /.test(l)).length, 1, worker.stdout);
    assert.ok(!fs.existsSync(path.join(tmp, 'out-refuse', 'refused')));
  });

  it('a job whose config does not validate fails once with the config error and is not retried', async () => {
    const server = await redis();
    const worker = cli(['worker', '--queue', server.url(), '--jobs', '1', '--work', path.join(tmp, 'w-invalid')]);
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: server.port } });
    try {
      const bad = { name: 'bad', seed: 0, data: { dataset: 'mnist' }, model: { type: 'mlp' }, training: { steps: -5 } };
      const job = await queue.add('bad', { v: 1, run: 'bad', seed: 0, config: bad }, { jobId: 'bad.0', attempts: 3, backoff: { type: 'fixed', delay: 100 } });
      // A bound against a hang, not a timing check.
      assert.ok(await until(() => / refused: /.test(worker.stdout), 120_000), worker.output);
      const state = await job.getState();
      const done = await queue.getJob('bad.0');
      assert.equal(state, 'failed');
      assert.equal(done?.attemptsMade, 1);
      assert.match(done?.failedReason ?? '', /^job bad\.0 config: .*training\.steps: /);
    } finally {
      await queue.close();
    }
    assert.equal(worker.stdout.split('\n').filter((l) => / refused: /.test(l)).length, 1, worker.stdout);
    assert.doesNotMatch(worker.stdout, /started/);
  });

  it('Redis restarted without its data mid-sweep: sweep and worker say so and retry; every run still lands once', async () => {
    const server = await redis();
    const worker = cli(['worker', '--queue', server.url(), '--jobs', '1', '--work', path.join(tmp, 'w-restart')]);
    const out = path.join(tmp, 'out-restart');
    const files = [config('restart-a', {}, 1500), config('restart-b', {}, 1500)];
    const sweep = cli(['sweep', ...files, '--queue', server.url(), '--out', out, '--no-progress']);
    assert.ok(await until(() => / started \(1500 steps\)/.test(sweep.stdout), 300_000), sweep.output + worker.output);
    await server.stop();
    assert.ok(await until(() => /unreachable/.test(sweep.stderr) && /unreachable/.test(worker.stdout), 60_000), sweep.output + worker.output);
    await server.launch();
    const { code } = await sweep.exited;
    assert.equal(code, 0, sweep.output + worker.output);
    assert.match(sweep.stderr, /^Redis at redis:\/\/127\.0\.0\.1:\d+ unreachable \(.*\); retrying in [\d.]+ s \(attempt 1\)$/m);
    assert.match(sweep.stderr, /Redis at redis:\/\/127\.0\.0\.1:\d+ reachable again/);
    assert.match(sweep.stderr, /its job is no longer in the queue \(Redis restarted without its data\?\); queued again/);
    assert.match(worker.stdout, /reachable again/);
    for (const name of ['restart-a', 'restart-b']) {
      assert.deepEqual(
        stepsOf(path.join(out, name)),
        Array.from({ length: 31 }, (_, i) => i * 50),
        name,
      );
    }
  });

  it('rediss:// to a TLS-only Redis: works when the CA is trusted, one line naming the certificate problem when not', async () => {
    const dir = path.join(tmp, 'tls');
    fs.mkdirSync(dir);
    const f = (name: string) => path.join(dir, name);
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bnrun test CA']);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    fs.writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
    const server = await redis(['--requirepass', PASSWORD], { cert: f('server.crt'), key: f('server.key') });
    const url = `rediss://:${ENCODED}@localhost:${server.port}`;
    const trusted = { ...process.env, NODE_EXTRA_CA_CERTS: f('ca.crt') };
    const worker = cli(['worker', '--queue', url, '--jobs', '1', '--work', path.join(tmp, 'w-tls')], trusted);
    const sweep = cli(['sweep', config('over-tls'), '--queue', url, '--out', path.join(tmp, 'out-tls'), '--no-progress'], trusted);
    assert.equal((await sweep.exited).code, 0, sweep.output + worker.output);
    assert.deepEqual(stepsOf(path.join(tmp, 'out-tls', 'over-tls')), [0, 50, 100]);
    await worker.stop('SIGTERM');

    const untrusted = { ...process.env, NODE_EXTRA_CA_CERTS: '' };
    const refused = cli(['worker', '--queue', url, '--work', path.join(tmp, 'w-tls-untrusted')], untrusted);
    assert.equal((await refused.exited).code, 1, refused.output);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /^bnrun: cannot reach Redis at rediss:\/\/:\*\*\*@localhost:\d+: .*certificate.*NODE_EXTRA_CA_CERTS/);
    for (const c of [sweep, worker, refused]) assert.ok(!c.output.includes(PASSWORD) && !c.output.includes(ENCODED), c.output);
  });

  it('a run that fails on a worker is retried with backoff (3 attempts), then reported by the sweep', async () => {
    const server = await redis();
    // Allowed by --data-root, but holds no MNIST files: `bnrun train` fails with a data error (exit 1) on every attempt.
    const empty = path.join(tmp, 'data-root', 'empty');
    fs.mkdirSync(empty, { recursive: true });
    const worker = cli(['worker', '--queue', server.url(), '--jobs', '1', '--work', path.join(tmp, 'w-retry'), '--data-root', path.join(tmp, 'data-root')]);
    const sweep = cli([
      'sweep',
      config('no-data', { data: { dataset: 'mnist', path: empty } }),
      '--queue',
      server.url(),
      '--out',
      path.join(tmp, 'out-retry'),
      '--no-progress',
    ]);
    const { code } = await sweep.exited;
    assert.equal(code, 1, sweep.output + worker.output);
    assert.match(sweep.stdout, /^no-data +back in the queue: failed on a worker \(exit 1: .*\); retrying \(attempt 2 of 3\)$/m);
    assert.match(sweep.stderr, /^bnrun: no-data: failed: exit 1: .* \(job no-data\.[0-9a-f]+, 3 attempts\)/m);
    assert.equal(worker.stdout.split('\n').filter((l) => /^no-data: failed on this worker/.test(l)).length, 3, worker.stdout);
  });
});
