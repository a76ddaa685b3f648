/** `bnrun info <config>`: the network a config builds, without building it. */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { describeModel } from '../config/model-plan';

function infoCommand(configFile: string): void {
  const config = loadConfig(configFile);
  const info = describeModel(config.model);
  const rows = info.layers.map((l) => [l.name, l.kind, l.outputShape.join('x'), l.parameters.toLocaleString('en-US')]);
  const header = ['layer', 'kind', 'output', 'parameters'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(`${config.name}: ${info.type}`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(`total parameters: ${info.totalParameters.toLocaleString('en-US')}`);
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description("print each layer's output shape and parameter count, and the total")
    .argument('<config>', 'config file (.json, .yaml or .yml)')
    .action(infoCommand);
}
