/**
 * The figures drawn while a run trains: at each snapshot epoch, the separability file and the
 * figures of every saved split. A figure that cannot be drawn (a full disk, a folder removed)
 * stops neither the run nor its checkpoint: the snapshots are saved, and `facelosses plot` draws
 * them later.
 */
import { type ResolvedConfig, scheduleNote } from '../config/config.js';
import { figureNaming, viewsOf } from '../run/figure-names.js';
import { errnoText } from '../run/folder.js';
import { writeSeparability } from '../run/separability-files.js';
import type { Snapshot } from '../run/snapshot.js';
import { command, shellPath } from '../util/command-line.js';
import { drawSnapshot } from './figures.js';

export interface SnapshotFigures {
  /** The trainer's onSnapshot: writes the files of one snapshot epoch and returns them. */
  onSnapshot(dir: string, epoch: number, snaps: Snapshot[]): Promise<string[]>;
  /** Every file written so far. */
  files: string[];
  /** One message per snapshot epoch whose figures could not be drawn. */
  drawErrors: string[];
}

/** `onDrawError` hears each failed snapshot epoch's message at once. */
export function snapshotFigures(config: ResolvedConfig, picsDir: string, onDrawError: (message: string) => void): SnapshotFigures {
  const naming = figureNaming(config);
  const files: string[] = [];
  const drawErrors: string[] = [];
  const onSnapshot = async (dir: string, epoch: number, snaps: Snapshot[]) => {
    const out: string[] = [writeSeparability(dir, epoch, snaps)];
    try {
      for (const s of snaps) {
        out.push(
          ...(await drawSnapshot(s, naming, scheduleNote(config), {
            picsDir,
            views: viewsOf(config.plot.view, config.model.embeddingDim),
            colorBy: config.plot.colorBy,
            width: config.plot.width,
            height: config.plot.height,
          })),
        );
      }
    } catch (e) {
      const msg = `the figures of epoch ${epoch} could not be drawn (${errnoText(e)}); the snapshots are saved: redraw them with ${command('plot', '--run', shellPath(dir), '--epoch', String(epoch))}`;
      drawErrors.push(msg);
      onDrawError(msg);
    }
    files.push(...out);
    return out;
  };
  return { onSnapshot, files, drawErrors };
}
