/** One assertion for the error contract: the right type and exit code, one line, naming what it must. */
import { strict as assert } from 'node:assert';
import { BnrunError } from '../src/errors';

/** Runs `fn`, which must throw a `type` error with `exitCode` whose one-line message mentions everything in `mentions`. */
export function expectError<E extends BnrunError>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
  exitCode: number,
  mentions: (string | RegExp)[],
): E {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ${type.name}, but it succeeded`);
  assert.ok(caught instanceof type, `expected a ${type.name}, got ${String(caught)}`);
  assert.equal(caught.exitCode, exitCode);
  assert.equal(caught.name, type.name);
  const msg = caught.message;
  assert.ok(msg.length > 0, 'empty message');
  assert.ok(!/[\n\r]/.test(msg), `message is more than one line: ${JSON.stringify(msg)}`);
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(msg.includes(m), `"${msg}" does not mention ${JSON.stringify(m)}`);
    else assert.match(msg, m);
  }
  return caught;
}
