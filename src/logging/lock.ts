/**
 * One writer per run directory: a lock file holding the writer's pid,
 * created exclusively. A lock whose process is gone (a killed run) is stale
 * and taken over, so an interrupted run can always be resumed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BnrunError } from '../errors';

export const LOCK_FILE = '.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string): RunLock {
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, host: os.hostname() }), { flag: 'wx' });
        return new RunLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let owner: { pid?: number; host?: string } = {};
      try {
        owner = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: number; host?: string };
      } catch {
        // A lock file cut short by a crash has no owner: stale.
      }
      const sameHost = owner.host === undefined || owner.host === os.hostname();
      if (typeof owner.pid === 'number' && owner.pid !== process.pid && (!sameHost || alive(owner.pid))) {
        throw new BnrunError(`${dir} is being written by process ${owner.pid}${sameHost ? '' : ` on ${owner.host}`}; wait for it to finish, or stop it first`, 1);
      }
      fs.rmSync(file, { force: true });
    }
    throw new BnrunError(`${dir}: could not take the run lock; remove ${file} if no run is writing there`, 1);
  }

  /** Runs `open` holding the lock; the lock is released if `open` throws, and handed over with its result otherwise. */
  static holding<T>(dir: string, open: (lock: RunLock) => T): T {
    const lock = RunLock.acquire(dir);
    try {
      return open(lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}
