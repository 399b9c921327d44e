/** `facelosses report`: one self-contained HTML page of a run's features over training. */
import { join } from 'node:path';
import { isRunDir } from '../run/run.js';
import { REPORT_FILE, writeRunReport, type WrittenPage } from '../report/page.js';
import { UserError } from '../util/errors.js';
import { latestRun } from './plot.js';

export interface ReportCommandOptions {
  /** The run folder; default: the most recent run under runs/. */
  run?: string;
  /** The HTML file; default <run>/report.html. */
  out?: string;
  /** Frames on the page, evenly spread over the run's history (default RUN_MAX_FRAMES). */
  maxFrames?: number;
  /** Where to say which run was chosen when `run` is not given (default: stderr). */
  log?: (line: string) => void;
}

export function reportCommand(o: ReportCommandOptions): WrittenPage & { run: string } {
  let run = o.run;
  if (run === undefined) {
    run = latestRun();
    (o.log ?? ((s: string) => process.stderr.write(s + '\n')))(`reporting ${run}, the most recent run (pick another with --run)`);
  }
  if (!isRunDir(run)) throw new UserError(`${run} is not a facelosses run folder (no run.json); give a folder written by facelosses train, e.g. runs/softmax-quick`);
  if (o.out !== undefined && !/\.html?$/i.test(o.out)) throw new UserError(`--out ${o.out}: the report is one HTML file; give a name ending in .html`);
  const page = writeRunReport(run, o.out ?? join(run, REPORT_FILE), o.maxFrames ? { maxFrames: o.maxFrames } : {});
  return { ...page, run };
}
