/** Fashion-MNIST from Debian's dataset-fashion-mnist (gzipped idx), through the same loader as MNIST. */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { loadMnist } from '../../src/data/mnist';

it('loads the real Fashion-MNIST from /usr/share/datasets/fashion-mnist (.gz)', () => {
  const d = loadMnist({ dataset: 'fashion-mnist' });
  assert.equal(d.dir, '/usr/share/datasets/fashion-mnist');
  assert.equal(d.train.n, 60000);
  assert.equal(d.test.n, 10000);
  assert.equal(d.train.images.length, 60000 * 784);
  // The first training and test items of Fashion-MNIST are both class 9 (ankle boot).
  assert.equal(d.train.labels[0], 9);
  assert.deepEqual(Array.from(d.test.labels.slice(0, 5)), [9, 2, 1, 1, 6]);
  // Balanced: 6000 training images per class.
  const counts = new Array<number>(10).fill(0);
  for (const l of d.train.labels) counts[l]++;
  assert.deepEqual(counts, new Array<number>(10).fill(6000));
  let max = 0;
  for (const v of d.test.images) max = Math.max(max, v);
  assert.equal(max, 1);
});
