/**
 * Build step (`npm run build`, after tsc): assembles kernels.wat, the SIMD
 * kernels' source, into dist/src/kernels/simd/kernels.wasm beside the
 * compiled loader (module.ts). wabt is a build-time dependency only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import wabt from 'wabt';

async function main(): Promise<void> {
  const source = path.resolve(__dirname, '../../../../src/kernels/simd/kernels.wat');
  const target = path.join(__dirname, 'kernels.wasm');
  const module = (await wabt()).parseWat(path.basename(source), fs.readFileSync(source, 'utf8'), { simd: true });
  try {
    module.resolveNames();
    module.validate();
    fs.writeFileSync(target, module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(`assemble kernels.wat: ${(e as Error).message}`);
  process.exitCode = 1;
});
