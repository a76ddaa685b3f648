/**
 * One writer per run directory: a lock file holding the writer's pid. A lock
 * whose process is gone (a killed run) is stale and taken over, so an
 * interrupted run can always be resumed.
 *
 * Every step is atomic, so several processes starting at once end with one
 * holder:
 * - a lock is created complete or not at all: its content goes to a private
 *   file that is then hard-linked to `.lock` (link fails if `.lock` exists);
 * - a stale lock is replaced only by the one process that first claims it:
 *   the claim is a marker file named after the stale lock's content, created
 *   exclusively, and the claimant renames its own lock over `.lock` only after
 *   checking that `.lock` still holds that content. Nobody else can change
 *   `.lock` meanwhile: creating fails while it exists, and replacing it needs
 *   the claim on its content, which is taken.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BnrunError, fileError } from '../errors';

export const LOCK_FILE = '.lock';
/** A claim left by a process killed in the middle of a takeover is removed after this long. */
const CLAIM_STALE_MS = 10_000;

interface Owner {
  pid?: number;
  host?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function parseOwner(text: string): Owner {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Owner) : {};
  } catch {
    // A lock file cut short (written by an older bnrun that was killed) has no owner: stale.
    return {};
  }
}

/** Creates `file` holding `text`, atomically and only if it does not exist; false if it does. */
function createExclusive(file: string, text: string, tmp: string): boolean {
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export class RunLock {
  private constructor(
    private readonly file: string,
    private readonly content: string,
  ) {}

  static acquire(dir: string): RunLock {
    const file = path.join(dir, LOCK_FILE);
    try {
      return RunLock.take(dir, file);
    } catch (e) {
      throw fileError(file, e, 'could not take the run lock');
    }
  }

  private static take(dir: string, file: string): RunLock {
    const nonce = randomBytes(8).toString('hex');
    const content = JSON.stringify({ pid: process.pid, host: os.hostname(), nonce });
    const tmp = path.join(dir, `${LOCK_FILE}.${process.pid}.${nonce}.tmp`);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (createExclusive(file, content, tmp)) return new RunLock(file, content);
      const text = readText(file);
      if (text === null) continue; // released meanwhile: try again
      const owner = parseOwner(text);
      const sameHost = owner.host === undefined || owner.host === os.hostname();
      if (typeof owner.pid === 'number' && owner.pid !== process.pid && (!sameHost || alive(owner.pid))) {
        throw new BnrunError(
          `${dir} is being written by process ${owner.pid}${sameHost ? '' : ` on ${owner.host}`}; wait for it to finish, or stop it first`,
          1,
        );
      }
      if (RunLock.takeOver(dir, file, text, content, tmp)) return new RunLock(file, content);
    }
    throw new BnrunError(`${dir}: could not take the run lock; remove ${file} if no run is writing there`, 1);
  }

  /** Replaces the stale lock holding `stale` with `content`; false if another process claimed it first or it changed. */
  private static takeOver(dir: string, file: string, stale: string, content: string, tmp: string): boolean {
    const claim = path.join(dir, `${LOCK_FILE}.claim-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`);
    try {
      fs.writeFileSync(claim, String(process.pid), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another process is taking this stale lock over (a takeover lasts microseconds); one killed
      // in the middle of it left its claim behind, which is removed once it is clearly old.
      try {
        if (Date.now() - fs.statSync(claim).mtimeMs > CLAIM_STALE_MS) fs.rmSync(claim, { force: true });
      } catch {
        // Gone meanwhile: the takeover finished.
      }
      sleep(5 + Math.random() * 20);
      return false;
    }
    try {
      if (readText(file) !== stale) return false;
      fs.writeFileSync(tmp, content);
      fs.renameSync(tmp, file);
      return true;
    } finally {
      fs.rmSync(tmp, { force: true });
      fs.rmSync(claim, { force: true });
    }
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

  /** Removes the lock if it is still this process's (never a lock another process holds now). */
  release(): void {
    if (readText(this.file) === this.content) fs.rmSync(this.file, { force: true });
  }
}

/**
 * Removes what killed lock takers left in `dir`: their private lock files
 * (`.lock.<pid>.<nonce>.tmp`, once that process is gone) and old claims.
 */
export function removeLockLeftovers(dir: string): string[] {
  const removed: string[] = [];
  for (const entry of fs.readdirSync(dir)) {
    const tmp = /^\.lock\.(\d+)\.[0-9a-f]+\.tmp$/.exec(entry);
    const claim = /^\.lock\.claim-[0-9a-f]+$/.test(entry);
    if (!tmp && !claim) continue;
    const file = path.join(dir, entry);
    try {
      if (tmp ? alive(Number(tmp[1])) : Date.now() - fs.statSync(file).mtimeMs <= CLAIM_STALE_MS) continue;
      fs.rmSync(file, { force: true });
      removed.push(entry);
    } catch {
      // Removed meanwhile by its owner.
    }
  }
  return removed;
}

/** Blocks for `ms` milliseconds (the lock is taken synchronously, before anything runs). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The live process writing `dir` (its lock's pid on this host, still running),
 * or null: no lock, a stale one, or one held on another host (whose liveness
 * cannot be checked from here).
 */
export function liveWriter(dir: string): number | null {
  let text: string | null;
  try {
    text = readText(path.join(dir, LOCK_FILE));
  } catch {
    return null;
  }
  if (text === null) return null;
  const owner = parseOwner(text);
  if (typeof owner.pid !== 'number' || (owner.host !== undefined && owner.host !== os.hostname())) return null;
  return alive(owner.pid) ? owner.pid : null;
}
