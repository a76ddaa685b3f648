/** JSON read from users' files is `unknown` until checked; this is the one check for "an object". */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
