/** The one place that maps a config's dataset to its DataSource. */
import { Config } from '../config/schema';
import { openImageNetSource } from './imagenet-source';
import { openMnistSource } from './mnist-source';
import type { DataSource, SourceOptions } from './source';

/**
 * Opens the config's dataset, verifying it (a missing or corrupt file, or a
 * tree that does not fit the model, fails here, before a run directory exists).
 */
export async function openDataSource(cfg: Config, opts: SourceOptions): Promise<DataSource> {
  if (cfg.data.dataset === 'imagenet') return openImageNetSource(cfg, opts);
  return openMnistSource(cfg, opts);
}
