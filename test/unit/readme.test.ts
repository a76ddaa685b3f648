/** The README documents every config field exactly as the schema defines it. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { configFieldTable, readmeSection } from '../../src/config/docs';

it('README config table matches the schema (run `npm run docs:config` to update)', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  assert.equal(readmeSection(readme), configFieldTable());
});
