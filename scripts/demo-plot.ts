/**
 * Writes synthetic demo scatter plots to a folder, to look at the plot style without training:
 *   node --import tsx scripts/demo-plot.ts out/demo-plots
 * spokes.png (softmax-like: ten radial spokes), spokes-unit.png (the same on the unit circle),
 * ring.png (ring-loss-like: ten blobs on a circle), blobs-mislabelled.png (colour = predicted
 * class, digit at the mean of the true class), contact-sheet.png (all of them), and prints the
 * time each render took.
 */
import path from 'node:path';
import { Rng } from '../src/rng.js';
import { renderContactSheet } from '../src/plot/contact-sheet.js';
import { renderScatter, type ScatterInput } from '../src/plot/scatter.js';
import { formatTitleParams } from '../src/plot/title.js';
import { writeFileAtomic } from '../src/util/fsx.js';

const K = 10;

function gauss(rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function spokes(n: number, rng: Rng): { points: Float32Array; labels: Int32Array } {
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % K;
    const theta = (2 * Math.PI * c) / K + 0.3 + 0.04 * gauss(rng);
    const r = Math.abs(40 + 60 * (1 + 0.15 * c) * Math.abs(gauss(rng)));
    points[2 * i] = r * Math.cos(theta);
    points[2 * i + 1] = r * Math.sin(theta);
    labels[i] = c;
  }
  return { points, labels };
}

function ring(n: number, rng: Rng, radius: number): { points: Float32Array; labels: Int32Array } {
  const points = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % K;
    const theta = (2 * Math.PI * c) / K + Math.PI / 2;
    points[2 * i] = radius * Math.cos(theta) + 2.2 * gauss(rng);
    points[2 * i + 1] = radius * Math.sin(theta) + 2.2 * gauss(rng);
    labels[i] = c;
  }
  return { points, labels };
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx scripts/demo-plot.ts <output-folder>');
    process.exit(2);
  }
  const rng = new Rng(7);
  const sp = spokes(10000, rng);
  const rg = ring(10000, rng, 24);
  // Predicted classes: 3% of the ring's points get a wrong class, to show the colour/label split.
  const pred = Int32Array.from(rg.labels, (l) => (rng.next() < 0.03 ? (l + 1 + Math.floor(rng.next() * 9)) % K : l));

  const figures: { file: string; input: ScatterInput }[] = [
    { file: 'spokes.png', input: { points: sp.points, colorLabels: sp.labels, numClasses: K, title: formatTitleParams({}, 100) } },
    {
      file: 'spokes-unit.png',
      input: {
        points: sp.points,
        colorLabels: sp.labels,
        numClasses: K,
        view: 'unit',
        title: formatTitleParams({ alpha: 1, trainable: true }, 300),
      },
    },
    {
      file: 'ring.png',
      input: {
        points: rg.points,
        colorLabels: pred,
        labelLabels: rg.labels,
        numClasses: K,
        title: formatTitleParams({ init_R: 1, loss_weight: 0.1 }, 500),
      },
    },
    {
      file: 'spokes-large.png',
      input: { points: sp.points, colorLabels: sp.labels, numClasses: K, width: 1280, height: 960, title: 'epoch=100 (1280x960)' },
    },
  ];

  const tiles = [];
  for (const f of figures) {
    const t0 = performance.now();
    const { png, layout } = await renderScatter(f.input);
    const ms = performance.now() - t0;
    await writeFileAtomic(path.join(out, f.file), png);
    console.log(
      `${f.file}: ${ms.toFixed(0)} ms, ${layout.drawn} points, x [${layout.xMin.toFixed(2)}, ${layout.xMax.toFixed(2)}], ` +
        `y [${layout.yMin.toFixed(2)}, ${layout.yMax.toFixed(2)}], units/px ${layout.unitsPerPixelX.toPrecision(6)} / ${layout.unitsPerPixelY.toPrecision(6)}`,
    );
    tiles.push({ title: f.file, png });
  }
  const sheet = await renderContactSheet(tiles, { columns: 2, tileWidth: 480, title: 'demo plots' });
  await writeFileAtomic(path.join(out, 'contact-sheet.png'), sheet);
  console.log(`wrote ${figures.length + 1} PNGs to ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
