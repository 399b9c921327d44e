/**
 * The names of a run's figures, like the reference figures':
 *   <pics>/<Folder>/<DisplayName>-<split>_<params, epoch=N>[_unit].png
 * e.g. pics/L2Softmax/L2-SoftmaxLoss-valid_alpha=1.0, trainable=True, epoch=300.png.
 * Known to the run folder (which files a run wrote, and may replace) and to every drawing.
 */
import { join } from 'node:path';
import type { ResolvedConfig, ViewChoice } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import { lossDisplayName } from '../losses/types.js';
import { formatTitleParams } from '../plot/title.js';
import type { SplitName } from './snapshot.js';

/** One figure of a snapshot: raw or unit (2-D and 3-D), pair or map (3-D). */
export type View = 'raw' | 'unit' | 'pair' | 'map';

export interface FigureNaming {
  folder: string;
  displayName: string;
  titleParams: Record<string, unknown>;
  /** Parameters printed as integers (m=3, not m=3.0), from the loss's schema. */
  integerKeys: string[];
  /** The feature dimension (model.embeddingDim): 3-D figures say 3d in their file names. */
  dim: number;
}

/** Names a loss's figures from its config, through its definition alone (no loss, no tensors). */
export function figureNaming(config: ResolvedConfig): FigureNaming {
  const def = getLossDefinition(config.loss.name);
  const params = config.loss.params;
  const integerKeys = Object.entries(def.params)
    .filter(([, p]) => p.type === 'integer')
    .map(([k]) => k);
  return { folder: def.figureFolder ?? def.displayName, displayName: lossDisplayName(def, params), titleParams: def.titleParams(params), integerKeys, dim: config.model.embeddingDim };
}

/**
 * <Folder>/<stem>[_unit].png for 2-D; <stem>_3d[_unit|_pair|_map].png for 3-D features, the same
 * stem as the 2-D figure of the same loss and parameters.
 */
export function figurePath(picsDir: string, naming: FigureNaming, split: SplitName, epoch: number, view: View = 'raw'): string {
  const stem = `${naming.displayName}-${split}_${formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys })}`;
  const dim = naming.dim === 2 ? '' : `_${naming.dim}d`;
  return join(picsDir, naming.folder, `${stem}${dim}${view === 'raw' ? '' : '_' + view}.png`);
}

/**
 * The animation of a run's features over training, named like the figures of its view, with the
 * loss's parameters (two configs of one loss share a folder) and no epoch:
 * <pics>/<Folder>/<DisplayName>-<split>[_<params>]-animation[_unit].gif for 2-D, e.g.
 * RingLoss-valid_init_R=24.0, loss_weight=0.01-animation.gif;
 * <DisplayName>-<split>[_<params>]-animation_3d[_unit|_pair|_map].gif for 3-D features.
 */
export function animationPath(picsDir: string, naming: FigureNaming, split: SplitName, view: View = 'raw'): string {
  const params = formatTitleParams(naming.titleParams, undefined, { integerKeys: naming.integerKeys });
  const dim = naming.dim === 2 ? '' : `_${naming.dim}d`;
  return join(picsDir, naming.folder, `${naming.displayName}-${split}${params ? '_' + params : ''}-animation${dim}${view === 'raw' ? '' : '_' + view}.gif`);
}

/**
 * The figures a view choice draws for features of dimension `dim`: every view of 3-D features
 * for 'all'; the 3-D-only views drop out for 2-D (train and plot refuse them first); none beyond 3-D.
 */
export function viewsOf(v: ViewChoice, dim = 2): View[] {
  if (dim > 3) return [];
  const views: View[] = v === 'both' ? ['raw', 'unit'] : v === 'all' ? ['raw', 'unit', 'pair', 'map'] : [v];
  return dim === 3 ? views : views.filter((x) => x === 'raw' || x === 'unit');
}
