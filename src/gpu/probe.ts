/**
 * Looking at the WebGPU adapter without committing to it, for `--backend
 * auto`. The look runs in a child process: Dawn prints its own driver
 * warnings straight to stderr (lavapipe prints two), it can take a second to
 * start, and a driver that crashes must not take bnrun with it. Where no GPU
 * device node exists auto has nothing to look for and starts no child.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { AdapterSummary } from './adapter';
import { requestAdapter } from './webgpu';

export type AdapterProbe = { summary: AdapterSummary } | { missing: string };

const PROBE_TIMEOUT_MS = 60_000;

/** Linux device nodes through which a driver reaches a GPU: NVIDIA, DRM render nodes (AMD, Intel), WSL. */
export function gpuDeviceNodes(): string[] {
  const nodes: string[] = [];
  for (const [dir, re] of [
    ['/dev', /^(nvidia\d+|dxg)$/],
    ['/dev/dri', /^renderD\d+$/],
  ] as const) {
    try {
      nodes.push(
        ...fs
          .readdirSync(dir)
          .filter((f) => re.test(f))
          .map((f) => `${dir}/${f}`),
      );
    } catch {
      // no such directory: no such devices
    }
  }
  return nodes;
}

/** For auto, which wants a real GPU: none without a GPU device node, else what the child finds. */
export function probeGpu(): Promise<AdapterProbe> {
  if (process.platform === 'linux' && gpuDeviceNodes().length === 0) {
    return Promise.resolve({ missing: 'no GPU device node (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg), so no GPU adapter' });
  }
  return probeAdapter();
}

/** The adapter Dawn would give this process (a CPU emulation included), found by a child process. */
export function probeAdapter(): Promise<AdapterProbe> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [__filename], { stdio: ['ignore', 'pipe', 'ignore'], timeout: PROBE_TIMEOUT_MS });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', (e) => resolve({ missing: `the WebGPU probe could not start (${e.message})` }));
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as AdapterProbe);
      } catch {
        resolve({ missing: `the WebGPU probe ended without an answer (${signal ? `signal ${signal}` : `exit ${code}`}; the driver may have crashed)` });
      }
    });
  });
}

/** The child: one JSON line on stdout. */
async function main(): Promise<void> {
  const found = await requestAdapter();
  const answer: AdapterProbe = 'missing' in found ? { missing: found.missing } : { summary: found.summary };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  // Dawn's instance may keep the event loop alive; the answer is all the parent needs.
  process.exit(0);
}

if (require.main === module) void main();
