/**
 * "Did you mean" for unknown config keys (src/config/suggest.ts): the edit
 * distance, the choice of the closest known field, the fields known at each
 * place of the schema, and the message loadConfig prints.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { closest, editDistance, knownKeys } from '../../src/config/suggest';
import { ConfigError } from '../../src/errors';
import { expectError } from '../expect-error';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('', ''), 0);
    assert.equal(editDistance('abc', ''), 3);
    assert.equal(editDistance('', 'ab'), 2);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('flaw', 'lawn'), 2);
    assert.equal(editDistance('steps', 'stesp'), 2);
    assert.equal(editDistance('learningrate', 'learningRate'), 1);
  });
});

describe('closest', () => {
  const fields = ['learningRate', 'momentum', 'weightDecay', 'decay', 'type'];
  it('ignores case, so learningrate is learningRate', () => {
    assert.equal(closest('learningrate', fields), 'learningRate');
    assert.equal(closest('LEARNINGRATE', fields), 'learningRate');
  });
  it('takes the nearest of several', () => {
    assert.equal(closest('decy', fields), 'decay');
    assert.equal(closest('momentun', fields), 'momentum');
    assert.equal(closest('weightdecay', fields), 'weightDecay');
  });
  it('suggests nothing for a word unlike every field', () => {
    assert.equal(closest('foo', fields), null);
    assert.equal(closest('batchSize', fields), null);
    assert.equal(closest('x', []), null);
  });
});

describe('knownKeys', () => {
  it('lists the fields of each section of the schema', () => {
    assert.ok(knownKeys([], {}).includes('optimizer'));
    assert.deepEqual(knownKeys(['optimizer'], {}).sort(), ['decay', 'learningRate', 'momentum', 'type', 'weightDecay']);
    assert.ok(knownKeys(['training'], {}).includes('populationBatches'));
  });
  it('follows model.type to the kind of network the config has', () => {
    const mlp = knownKeys(['model'], { model: { type: 'mlp' } });
    assert.ok(mlp.includes('hidden') && !mlp.includes('stem'));
    const inception = knownKeys(['model'], { model: { type: 'inception' } });
    assert.ok(inception.includes('stem') && !inception.includes('hidden'));
    // Without a type both kinds' fields are candidates.
    const either = knownKeys(['model'], { model: {} });
    assert.ok(either.includes('stem') && either.includes('hidden'));
    assert.deepEqual(knownKeys(['model', 'init'], { model: { type: 'mlp', init: {} } }).sort(), ['distribution', 'std']);
  });
  it('goes into arrays (an Inception block)', () => {
    assert.ok(knownKeys(['model', 'blocks', 0], { model: { type: 'inception', blocks: [{}] } }).includes('poolProj'));
  });
});

describe('loadConfig suggests the closest field for an unknown key', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-suggest-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const load = (name: string, body: object) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, JSON.stringify({ name: 's', data: { dataset: 'mnist' }, model: { type: 'mlp' }, ...body }));
    return () => loadConfig(file);
  };

  it('optimizer.learningrate -> learningRate', () => {
    expectError(load('lr.json', { optimizer: { learningrate: 1 } }), ConfigError, 2, [
      'optimizer: Unrecognized key: "learningrate"',
      '(did you mean "learningRate"?)',
    ]);
  });
  it('a misspelt section at the top level', () => {
    expectError(load('top.json', { trainig: { steps: 5 } }), ConfigError, 2, ['"trainig"', 'did you mean "training"?']);
  });
  it('several unknown keys in one section each get their own suggestion, and a key like nothing gets none', () => {
    const err = expectError(load('many.json', { model: { type: 'mlp', hiden: [5], batchnorm: true, zzzzzz: 1 } }), ConfigError, 2, [
      '"hidden" for "hiden"',
      '"batchNorm" for "batchnorm"',
    ]);
    assert.ok(!err.message.includes('for "zzzzzz"'), err.message);
  });
});
