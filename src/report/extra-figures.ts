/**
 * The figures a run draws besides its snapshot grid, from its last checkpoint and the valid
 * snapshot of that epoch: Sub-center ArcFace's sub-centers, AdaFace's margins. Drawn when a run
 * finishes, redrawn by `facelosses plot`, shown under their run in the gallery.
 */
import type { ResolvedConfig } from '../config/config.js';
import { adafaceFigurePath, renderAdaFaceFigure } from './adaface-margins.js';
import type { FigureNaming } from './figures.js';
import { renderSubCenterFigure, subCenterFigurePath } from './subcenters.js';

export interface ExtraFigure {
  /** What the figure is, for messages: 'the sub-center figure'. */
  what: string;
  /** The figure in memory (nothing written) with its epoch, or null when the run has none. */
  render(runDir: string, config: ResolvedConfig, naming: FigureNaming, schedule: string, picsDir: string): Promise<{ file: string; png: Buffer; epoch: number } | null>;
  /** Where the figure of an epoch goes. */
  path(picsDir: string, naming: FigureNaming, epoch: number): string;
  /** The gallery's caption of the figure of an epoch. */
  caption(epoch: number): string;
}

export const EXTRA_FIGURES: readonly ExtraFigure[] = [
  {
    what: 'the sub-center figure',
    async render(runDir, config, naming, schedule, picsDir) {
      const f = await renderSubCenterFigure(runDir, config, naming, schedule, picsDir);
      return f && { file: f.file, png: f.png, epoch: f.summary.epoch };
    },
    path: subCenterFigurePath,
    caption: (epoch) =>
      `Every sub-center at epoch ${epoch} over the test images on the unit circle: solid = the dominant sub-center of its class, labelled with its share of the class's images; dashed = the others (labelled at 5 % or more).`,
  },
  {
    what: 'the AdaFace margin figure',
    async render(runDir, config, naming, schedule, picsDir) {
      const f = await renderAdaFaceFigure(runDir, config, naming, schedule, picsDir);
      return f && { file: f.file, png: f.png, epoch: f.summary.epoch };
    },
    path: adafaceFigurePath,
    caption: (epoch) =>
      `The test images at epoch ${epoch} coloured by ẑ, their norm against the running statistics, which sets each image's margin: blue ẑ = −1 (low norm, hard: ArcFace's cos(θ + m)), grey ẑ = 0 (CosFace's cos θ − m), red ẑ = +1 (high norm, easy: cos(θ − m) − 2m). The title gives the share of images with ẑ < 0 and the accuracy on either side of ẑ = 0.`,
  },
];
