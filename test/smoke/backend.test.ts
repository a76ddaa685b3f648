/**
 * Backend selection through the real CLI (src/backend.ts, src/gpu/): what
 * auto picks on this machine and says about it, the one-line refusal of
 * --backend webgpu where no Vulkan driver exists, and that the default
 * install brings no libtensorflow. Training on webgpu itself is tested by
 * `npm run test:webgpu` (test/webgpu/), which needs a WebGPU adapter.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { summarizeAdapter } from '../../src/gpu/adapter';
import { gpuDeviceNodes } from '../../src/gpu/probe';
import { BIN, bnrun, ROOT } from '../cli';

describe('backend selection', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-backend-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('auto picks wasm on a machine without a GPU, says why, and records it in summary.json', (t) => {
    if (gpuDeviceNodes().length > 0) return t.skip(`this machine has GPU device nodes (${gpuDeviceNodes().join(', ')}): auto may rightly pick webgpu`);
    const out = path.join(tmp, 'auto');
    const r = bnrun(['train', 'configs/ci/mnist-bn.json', '--steps', '2', '--eval-every', '2', '--out', out, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('backend: '));
    assert.ok(line, r.stdout);
    assert.match(line, /^backend: wasm \(auto: .*webgpu: no GPU device node .*; wasm \(SIMD\) is the fastest available\)$/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { backend: { name: string; reason: string } };
    assert.equal(summary.backend.name, 'wasm');
    assert.equal(`backend: wasm (${summary.backend.reason})`, line);
  });

  it('--backend webgpu without a Vulkan driver: one line naming what to install, exit 1', () => {
    // The Vulkan loader reads only the ICD manifests this variable names; a missing one leaves it no driver.
    const env = { ...process.env, VK_ICD_FILENAMES: path.join(tmp, 'no-such-icd.json'), VK_DRIVER_FILES: '' };
    const r = spawnSync(
      process.execPath,
      [BIN, 'train', 'configs/ci/mnist-bn.json', '--backend', 'webgpu', '--out', path.join(tmp, 'never'), '--no-progress'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env,
      },
    );
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    // Where libvulkan1 is absent the loader is what is missing; with it, the driver.
    assert.match(
      lines[0],
      /^bnrun: --backend webgpu: (no Vulkan driver \(ICD manifest\) found \(VK_ICD_FILENAMES=.*\): install .*mesa-vulkan-drivers|the Vulkan loader libvulkan\.so\.1 is not installed: install libvulkan1)/,
    );
    assert.equal(fs.existsSync(path.join(tmp, 'never')), false);
  });

  it('tells emulated adapters from GPUs by what Dawn reports', () => {
    // As Dawn 0.6 reports Mesa 25's lavapipe on this machine, and as it reports an NVIDIA GPU (vendor/architecture/description).
    const lavapipe = summarizeAdapter({
      vendor: 'mesa',
      architecture: 'software',
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
      description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
      isFallbackAdapter: true,
    });
    assert.equal(lavapipe.emulated, true);
    assert.equal(lavapipe.name, 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1');
    const unmarked = summarizeAdapter({
      vendor: 'google',
      architecture: '',
      device: '',
      description: 'SwiftShader Device (Subzero)',
      isFallbackAdapter: false,
    });
    assert.equal(unmarked.emulated, true, 'named as SwiftShader');
    const nvidia = summarizeAdapter({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false });
    assert.deepEqual([nvidia.emulated, nvidia.name], [false, 'NVIDIA H200']);
  });

  it('the default install brings no libtensorflow: tfjs-node and tfjs-node-gpu are optional peers only', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
      for (const field of ['dependencies', 'optionalDependencies', 'devDependencies']) assert.equal(pkg[field]?.[name], undefined, `${field} has ${name}`);
      assert.ok(pkg.peerDependencies?.[name], `peerDependencies lacks ${name}`);
      assert.deepEqual(pkg.peerDependenciesMeta?.[name], { optional: true });
    }
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const native = Object.keys(lock.packages).filter((p) => /node_modules\/@tensorflow\/tfjs-node(-gpu)?$/.test(p));
    assert.deepEqual(native, [], 'npm ci would install these');
    for (const name of ['webgpu', '@tensorflow/tfjs-backend-webgpu']) assert.ok(lock.packages[`node_modules/${name}`], `the lockfile lacks ${name}`);
  });
});
