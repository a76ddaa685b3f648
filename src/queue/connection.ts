/**
 * Talking to Redis: the connection options BullMQ gets, a probe at start (an
 * unreachable server is one line naming the URL, exit 1, instead of a
 * driver's endless reconnect loop), and a watch that says when the server
 * goes away and comes back. BullMQ's own connections reconnect by themselves
 * with its backoff; the watch is one extra connection so that an outage is
 * reported once per retry, not once per connection. Every line goes through
 * the target's redaction, so a password in the URL is never printed.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import IORedis from 'ioredis';
import { BnrunError } from '../errors';
import { QueueTarget } from './url';

/** How long a connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5000;
/** Reconnect delays: 0.5 s, 1 s, 2 s, ... capped at 10 s, so a restarted Redis is found again within seconds. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 10_000);
}

/** Options for BullMQ's connections (it adds its own retry strategy and blocking settings). */
export function bullConnection(target: QueueTarget): BullRedisOptions {
  const c = target.connection;
  return {
    host: c.host,
    port: c.port,
    db: c.db,
    username: c.username,
    password: c.password,
    tls: c.tls,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Blocking connections (workers, queue events) must wait out an outage rather than fail the command.
    maxRetriesPerRequest: null,
  };
}

function errorText(e: unknown, target: QueueTarget): string {
  const err = e as { message?: unknown; code?: unknown } | null;
  const msg = typeof err?.message === 'string' && err.message !== '' ? err.message : typeof err?.code === 'string' ? err.code : String(e);
  return target.redact(msg.split('\n')[0]);
}

/** Connects once, without retrying, and pings: a BnrunError (exit 1) naming the URL when that fails. */
export async function probe(target: QueueTarget): Promise<void> {
  const client = new IORedis({ ...bullConnection(target), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  let last: unknown = null;
  client.on('error', (e: unknown) => (last = e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const why = errorText(last ?? e, target);
    // A TLS failure is not fixed by starting Redis: say what is.
    const what = /certificate|SSL|TLS/i.test(why)
      ? "trust the server's certificate (NODE_EXTRA_CA_CERTS=<ca.pem> adds a CA) or fix --queue"
      : 'start redis-server there, or fix --queue';
    throw new BnrunError(`cannot reach Redis at ${target.shown}: ${why}; ${what}`, 1);
  } finally {
    client.disconnect();
  }
}

/**
 * One connection kept open to notice an outage: "unreachable ... retrying in
 * N s" on each reconnect attempt, "reachable again" when it is back.
 */
export class ConnectionWatch {
  private readonly client: IORedis;
  private lost = false;
  private lastError = 'connection closed';
  private closing = false;

  constructor(
    target: QueueTarget,
    private readonly say: (line: string) => void,
  ) {
    this.client = new IORedis({
      ...bullConnection(target),
      enableOfflineQueue: false,
      retryStrategy: (times: number) => {
        if (this.closing) return null;
        const delay = backoffMs(times);
        this.lost = true;
        this.say(`Redis at ${target.shown} unreachable (${this.lastError}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${times})`);
        return delay;
      },
    });
    this.client.on('error', (e: unknown) => (this.lastError = errorText(e, target)));
    this.client.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      this.say(`Redis at ${target.shown} reachable again`);
    });
  }

  /** True while the watch's connection is down. */
  get down(): boolean {
    return this.lost;
  }

  close(): void {
    this.closing = true;
    this.client.disconnect();
  }
}

export { errorText };
