/**
 * A real redis-server for the queue tests: on a free loopback port, without
 * persistence (`--save '' --appendonly no`), stopped by the test. No mocks.
 * Also the CLI processes those tests start, with their output kept.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { BIN, ROOT } from '../cli';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly extra: string[],
  ) {}

  /** `tls`: serve TLS only on the port, with this certificate and key. */
  static async start(extra: string[] = [], tls?: { cert: string; key: string }): Promise<RedisServer> {
    const port = await freePort();
    const listen = tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-auth-clients', 'no']
      : ['--port', String(port)];
    const server = new RedisServer(port, [...listen, ...extra]);
    await server.launch();
    return server;
  }

  /** Starts redis-server on this port and waits until it accepts connections. */
  async launch(): Promise<void> {
    // "localhost" may resolve to ::1 first; "-::1" binds it when the host has IPv6.
    const proc = spawn(REDIS_SERVER, ['--bind', '127.0.0.1 -::1', '--save', '', '--appendonly', 'no', ...this.extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        log += d.toString();
        if (/Ready to accept connections/.test(log)) resolve();
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${log}`)));
    });
    proc.stdout?.resume();
    proc.stderr?.resume();
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
  }

  url(password?: string): string {
    return password === undefined ? `redis://127.0.0.1:${this.port}` : `redis://:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }
}

/** A `bnrun` process started in the background, its output collected as it comes. */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.proc.once('close', (code, signal) => resolve({ code, signal })));
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Stops it (if still running) and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 100 ms until it holds or `limitMs` passes (a bound against hangs, not a timing check). */
export async function until(cond: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}
