import { ModelConfig } from '../config/schema';
import { Rng } from '../rng';
import { Inception } from './inception';
import { Mlp } from './mlp';
import { Network } from './network';

export function buildNetwork(cfg: ModelConfig, rng: Rng): Network {
  switch (cfg.type) {
    case 'mlp':
      return new Mlp(cfg, rng);
    case 'inception':
      return new Inception(cfg, rng);
  }
}
