/**
 * The layers of src/, top to bottom. A module may import its own layer and the layers below it,
 * never one above; and no import cycle anywhere. docs/architecture.md explains each layer.
 * Checked by test/layers.test.ts (part of `npm test`); by hand: `npx depcruise src`.
 *
 * The layers are folders, so a new file falls into its folder's layer without a change here.
 */
const LAYERS = [
  { name: 'cli', what: 'flags, help, progress and hint text; the library entry', path: '^src/(cli/|index\\.ts$)' },
  { name: 'use-cases', what: 'train, plot, reproduce, worker, report, animate', path: '^src/commands/' },
  { name: 'services', what: 'report/, batch/, queue/', path: '^src/(report|batch|queue)/' },
  { name: 'training', what: 'train/, run/', path: '^src/(train|run)/' },
  { name: 'config', what: 'config/', path: '^src/config/' },
  { name: 'domain', what: 'losses/, model/, data/, plot/, metrics/', path: '^src/(losses|model|data|plot|metrics)/' },
  {
    name: 'engine-util',
    what: 'the engine (backend.ts, tfjs-gradients.ts, kernels/) and util/ (with rng.ts, version.ts)',
    path: '^src/(kernels/|util/|backend\\.ts$|tfjs-gradients\\.ts$|rng\\.ts$|version\\.ts$)',
  },
];

const upward = LAYERS.slice(1).map((layer, i) => {
  const above = LAYERS.slice(0, i + 1);
  return {
    name: `layer-${layer.name}-imports-only-down`,
    comment: `${layer.what} (layer ${layer.name}) may not import the layers above it: ${above.map((l) => l.name).join(', ')}`,
    severity: 'error',
    from: { path: layer.path },
    to: { path: above.map((l) => l.path).join('|') },
  };
});

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-cycles',
      comment: 'an import cycle: modules that need each other belong in one module, or the shared part in a lower one',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'every-file-has-a-layer',
      comment: 'a file of src/ outside every layer: put it in a layer folder, or add it to a layer in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map((l) => l.path).join('|') },
      to: {},
    },
    {
      name: 'engine-packages-only-in-the-engine',
      comment: 'only src/backend.ts and src/kernels/ load an engine package (tfjs backends, tfjs-node, webgpu)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(backend\\.ts$|kernels/)' },
      to: { path: 'node_modules/(@tensorflow/tfjs-(backend-[a-z]+|node|node-gpu)|webgpu)/' },
    },
  ],
  options: {
    // The TypeScript compiler of this project has no JavaScript API; swc parses the sources.
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },

};
