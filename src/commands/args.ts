/**
 * Parsers for command-line values that commander calls while it reads the
 * arguments, so a malformed flag is a usage error (exit 2) before any work.
 */
import { InvalidArgumentError } from 'commander';

/**
 * A number flag that overrides a config field (--steps, --seed, --eval-every).
 * Only a value that is not a number is refused here, naming the flag; whether
 * the number fits the field (a positive integer, ...) is the schema's to say,
 * since the override is applied before validation and reported like a bad field.
 */
export function numberArg(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} expects a number, got "${value}"`);
    return n;
  };
}

/** Parses --target: a fraction (0.722) or a percentage (72.2% or 72.2). */
export function parseTarget(value: string): number {
  const s = value.trim();
  const pct = s.endsWith('%');
  const n = Number(pct ? s.slice(0, -1) : s);
  if (s === '' || !Number.isFinite(n)) throw new Error(`--target expects an accuracy such as 0.722 or 72.2%, got "${value}"`);
  const frac = pct || n > 1 ? n / 100 : n;
  if (!(frac > 0 && frac <= 1)) throw new Error(`--target must be in (0, 1] (or (0%, 100%]), got "${value}"`);
  return frac;
}

/** --target as commander wants it: a bad value is a usage error. */
export function targetArg(value: string): number {
  try {
    return parseTarget(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}
