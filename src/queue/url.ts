/**
 * The --queue URL: `redis://[[user]:password@]host[:port][/db]`, or
 * `rediss://` for TLS. Parsed into connection options for ioredis, and shown
 * to people only in redacted form: the password never reaches a terminal, a
 * log line or an error message (`QueueTarget.redact` scrubs it from any text that
 * might quote it, such as a driver's error or the sweep's rerun hint).
 */
import * as net from 'node:net';
import { ConfigError } from '../errors';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** rediss://: TLS with Node's trusted CAs (NODE_EXTRA_CA_CERTS adds one), the certificate checked against host. */
  tls?: { servername?: string };
}

export interface QueueTarget {
  connection: QueueConnection;
  /** The URL as it may be printed: the password replaced by `***`. */
  shown: string;
  /** Removes the password (as given and URL-encoded) from any text. */
  redact(text: string): string;
}

const MASK = '***';
const DEFAULT_PORT = 6379;
/** Redis has 16 databases unless configured otherwise; more is allowed by `databases N`. */
const DB_MAX = 1 << 16;

/** The URL with its password masked, found without a URL parser so even an unparsable URL is printed safely. */
export function redactUrl(raw: string): string {
  // scheme://user:password@rest -> scheme://user:***@rest; the last @ ends the credentials (a password may hold @).
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/]*)@(.*)$/.exec(raw);
  if (!m) return raw;
  const cred = m[2];
  const colon = cred.indexOf(':');
  return colon < 0 ? `${m[1]}${cred}@${m[3]}` : `${m[1]}${cred.slice(0, colon)}:${MASK}@${m[3]}`;
}

function redactor(secrets: string[]): (text: string) => string {
  const kept = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return (text: string) => kept.reduce((t, s) => t.split(s).join(MASK), text);
}

export function parseQueueUrl(raw: string): QueueTarget {
  const shown = redactUrl(raw);
  const bad = (why: string) => new ConfigError(`--queue ${shown}: ${why}; expected redis://[:password@]host:port[/db] or rediss://...`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`unsupported scheme "${url.protocol.replace(/:$/, '')}"`);
  if (url.hostname === '') throw bad('no host');
  if (url.search !== '' || url.hash !== '') throw bad('query strings and fragments are not supported');
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw bad(`database "${dbText}" is not a number`);
  const db = dbText === '' ? 0 : Number(dbText);
  if (db >= DB_MAX) throw bad(`database ${db} is out of range`);
  let username: string | undefined;
  let password: string | undefined;
  try {
    username = url.username === '' ? undefined : decodeURIComponent(url.username);
    password = url.password === '' ? undefined : decodeURIComponent(url.password);
  } catch {
    throw bad('the credentials are not valid percent-encoding');
  }
  // IPv6 literals come as [::1]; the driver wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: QueueConnection = { host, port, db, username, password };
  // SNI takes a host name only (RFC 6066); an IP address is still checked against the certificate.
  if (url.protocol === 'rediss:') connection.tls = net.isIP(host) ? {} : { servername: host };
  const secrets = password === undefined ? [] : [password, url.password, encodeURIComponent(password)];
  return { connection, shown, redact: redactor(secrets) };
}
