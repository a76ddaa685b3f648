/**
 * selectBackend's fallback chain on this machine's real packages: without a
 * native TensorFlow package `auto` takes wasm and says why; with wasm gone
 * it falls back to cpu; an explicit request that cannot be met names the
 * flag: a ConfigError (exit 2) for a package not installed, a BackendError
 * (exit 1) for a backend that is there but does not start. Nothing is mocked: the wasm backend
 * is unregistered from tfjs for the last part, as a failed wasm build would be.
 */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { BackendError, ConfigError } from '../../src/errors';

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const noNative = NATIVE.every((p) => !installed(p));

it('an explicit cpu or wasm request gets that backend', async () => {
  const cpu = await selectBackend('cpu');
  assert.deepEqual(cpu, { name: 'cpu', provider: '@tensorflow/tfjs', reason: 'requested with --backend cpu' });
  assert.equal(tf.getBackend(), 'cpu');
  const wasm = await selectBackend('wasm');
  assert.equal(wasm.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});

it(
  'auto without a native package: wasm, and the reason names each missing package',
  { skip: noNative ? false : 'a native TensorFlow package is installed' },
  async () => {
    const b = await selectBackend('auto');
    assert.equal(b.name, 'wasm');
    assert.equal(b.provider, '@tensorflow/tfjs-backend-wasm');
    for (const p of NATIVE) assert.ok(b.reason.includes(`${p} not installed`), b.reason);
    await assert.rejects(
      selectBackend('tensorflow'),
      (e: unknown) => e instanceof ConfigError && /--backend tensorflow: .*not installed; install @tensorflow\/tfjs-node/.test(e.message),
    );
  },
);

it(
  'auto with wasm unavailable falls back to cpu; --backend wasm is then refused',
  { skip: noNative ? false : 'a native TensorFlow package is installed' },
  async () => {
    await tf.setBackend('cpu');
    tf.removeBackend('wasm');
    const b = await selectBackend('auto');
    assert.equal(b.name, 'cpu');
    assert.match(b.reason, /wasm failed to initialise/);
    await assert.rejects(
      selectBackend('wasm'),
      // The machine lacks what the backend needs: a runtime error (exit 1), as for --backend webgpu without a driver.
      (e: unknown) => e instanceof BackendError && e.exitCode === 1 && /--backend wasm: the backend failed to initialise/.test(e.message),
    );
  },
);
