/**
 * The run lock under contention: several processes find the same stale lock
 * at the same moment (a barrier on the wall clock), and exactly one of them
 * ends up holding it; the others are told who does. Real processes on the
 * real filesystem, running the lock module the CLI uses.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../cli';

const LOCK_MODULE = path.join(ROOT, 'dist', 'src', 'logging', 'lock.js');

/** Waits for the barrier, takes the lock, holds it long enough for every other taker to finish, prints the outcome. */
const TAKER = `
const { RunLock } = require(${JSON.stringify(LOCK_MODULE)});
const [dir, at] = process.argv.slice(1);
while (Date.now() < Number(at)) {}
let lock;
try {
  lock = RunLock.acquire(dir);
} catch (e) {
  console.log('refused ' + e.message);
  process.exit(0);
}
console.log('held');
setTimeout(() => lock.release(), 3000);
`;

let tmp: string;

describe('stale-lock takeover under contention', () => {
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-lock-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (let round = 0; round < 5; round++) {
    it(`10 takers at the same moment: exactly one holds the lock (round ${round + 1})`, async () => {
      const dir = path.join(tmp, `round-${round}`);
      fs.mkdirSync(dir);
      // A lock left by a process that has exited: stale.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: dead, host: os.hostname() }));
      // Far enough ahead that every taker has started and is spinning on the barrier.
      const at = Date.now() + 4000;
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => {
          const child = spawn(process.execPath, ['-e', TAKER, dir, String(at)], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (out += d.toString()));
          return new Promise<string>((resolve) => child.on('exit', () => resolve(out.trim())));
        }),
      );
      const held = outcomes.filter((o) => o === 'held');
      assert.equal(held.length, 1, outcomes.join('\n'));
      for (const o of outcomes.filter((x) => x !== 'held')) assert.match(o, /^refused .* is being written by process \d+/);
      // Released by its holder, and nothing of the takeover left behind.
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  }
});
