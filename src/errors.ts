/**
 * Every failure a user can cause or meet ends in one of these, so the CLI can
 * print one line and pick the exit code without knowing where it came from.
 */
export class BnrunError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** A config or command-line problem: nothing was run. Exit 2. */
export class ConfigError extends BnrunError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A missing, unreadable or corrupt data file. Exit 1. */
export class DataError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** Loss or weights became NaN/Inf; what was logged up to then stays valid. Exit 1. */
export class DivergedError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}
