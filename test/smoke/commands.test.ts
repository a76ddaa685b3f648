/**
 * `bnrun info` and `bnrun validate [--print]` through the real CLI: what they
 * print for the shipped configs, and that the printed config is the one
 * `train` would run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { describeModel } from '../../src/config/model-plan';
import { bnrun, ROOT } from '../cli';

it('info: one row per layer or block, and the total the paper table gives (11,275,208 for Inception, 11,285,224 with BN)', () => {
  for (const [file, total] of [
    ['configs/imagenet/inception.json', '11,275,208'],
    ['configs/imagenet/bn-baseline.json', '11,285,224'],
    ['configs/small/inception.json', describeModel(loadConfig(path.join(ROOT, 'configs/small/inception.json')).model).totalParameters.toLocaleString('en-US')],
  ]) {
    const r = bnrun(['info', file]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /: inception$/);
    assert.match(lines[1], /^layer\s+kind\s+output\s+parameters$/);
    assert.equal(lines[lines.length - 1], `total parameters: ${total}`);
    // The rows' parameters add up to the total.
    const sum = lines.slice(2, -1).reduce((n, l) => n + Number((l.trim().split(/\s+/).pop() ?? '').replace(/,/g, '')), 0);
    assert.equal(sum.toLocaleString('en-US'), total);
  }
  const bn = bnrun(['info', 'configs/imagenet/bn-baseline.json']).stdout;
  assert.match(bn, /^4e\s+inception\s+7x7x1056\s/m, 'the 4e block concatenates to 1056 channels');
  // 784x100 + 2 x 100x100 + 100x10 weights, gamma and beta for 3 x 100 units, 10 output biases.
  const mlp = bnrun(['info', 'configs/mnist-bn.json']).stdout.trim().split('\n');
  assert.equal(mlp[mlp.length - 1], 'total parameters: 100,010');
});

it('validate prints one ok line; --print prints the config with every default, which validates and loads to the same config', () => {
  const file = 'configs/small/bn-x5.json';
  const ok = bnrun(['validate', file]);
  assert.equal(ok.status, 0, ok.stderr);
  const cfg = loadConfig(path.join(ROOT, file));
  assert.equal(ok.stdout.trim(), `${file}: ok (${cfg.name}: inception, ${cfg.training.steps} steps)`);
  const printed = bnrun(['validate', file, '--print']);
  assert.equal(printed.status, 0, printed.stderr);
  const resolved: unknown = JSON.parse(printed.stdout);
  assert.deepEqual(resolved, cfg);
  // Defaults are filled in, inherited fields resolved (extends is gone).
  const r = resolved as { extends?: unknown; training: { checkpointEvery: unknown }; model: { batchNorm: boolean } };
  assert.equal(r.extends, undefined);
  assert.equal(r.training.checkpointEvery, 'auto');
  assert.equal(r.model.batchNorm, true);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-print-'));
  try {
    const again = path.join(tmp, 'printed.json');
    fs.writeFileSync(again, printed.stdout);
    assert.deepEqual(loadConfig(again), resolved);
    assert.equal(bnrun(['validate', again]).status, 0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
