/** `bnrun validate <config>`: the checks `train` runs on a config, without training. */
import { Command } from 'commander';
import { loadConfig } from '../config/load';

function validateCommand(configFile: string, flags: { print: boolean }): void {
  const config = loadConfig(configFile);
  if (flags.print) console.log(JSON.stringify(config, null, 2));
  else console.log(`${configFile}: ok (${config.name}: ${config.model.type}, ${config.training.steps} steps)`);
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a config against the schema without training')
    .argument('<config>', 'config file (.json, .yaml or .yml)')
    .option('--print', 'print the resolved config with every default filled in', false)
    .action(validateCommand);
}
