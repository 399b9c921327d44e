/**
 * The names of a run's figures, like the reference figures':
 *   <pics>/<Folder>/<DisplayName>-<split>_<params, epoch=N>[_unit].png
 * e.g. pics/L2Softmax/L2-SoftmaxLoss-valid_alpha=1.0, trainable=True, epoch=300.png.
 * Known to the run folder (which files a run wrote, and may replace) and to every drawing.
 */
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/config.js';
import { getLossDefinition } from '../losses/registry.js';
import { lossDisplayName } from '../losses/types.js';
import { formatTitleParams } from '../plot/title.js';
import type { SplitName } from './snapshot.js';

export type View = 'raw' | 'unit';

export interface FigureNaming {
  folder: string;
  displayName: string;
  titleParams: Record<string, unknown>;
  /** Parameters printed as integers (m=3, not m=3.0), from the loss's schema. */
  integerKeys: string[];
}

/** Names a loss's figures from its config, through its definition alone (no loss, no tensors). */
export function figureNaming(config: ResolvedConfig): FigureNaming {
  const def = getLossDefinition(config.loss.name);
  const params = config.loss.params;
  const integerKeys = Object.entries(def.params)
    .filter(([, p]) => p.type === 'integer')
    .map(([k]) => k);
  return { folder: def.figureFolder ?? def.displayName, displayName: lossDisplayName(def, params), titleParams: def.titleParams(params), integerKeys };
}

export function figurePath(picsDir: string, naming: FigureNaming, split: SplitName, epoch: number, view: View = 'raw'): string {
  const stem = `${naming.displayName}-${split}_${formatTitleParams(naming.titleParams, epoch, { integerKeys: naming.integerKeys })}`;
  return join(picsDir, naming.folder, `${stem}${view === 'unit' ? '_unit' : ''}.png`);
}

/** The animation of a run's features over training: <pics>/<Folder>/<DisplayName>-<split>-animation[_unit].gif */
export function animationPath(picsDir: string, naming: FigureNaming, split: SplitName, view: View = 'raw'): string {
  return join(picsDir, naming.folder, `${naming.displayName}-${split}-animation${view === 'unit' ? '_unit' : ''}.gif`);
}

export function viewsOf(v: 'raw' | 'unit' | 'both'): View[] {
  return v === 'both' ? ['raw', 'unit'] : [v];
}
