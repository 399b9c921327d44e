/**
 * The GitHub Actions workflow: every `facelosses` command it runs exists in the CLI with every
 * flag it passes, and the plan gives the fields the matrix reads.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'yaml';
import { runCli } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKFLOWS = join(ROOT, '.github', 'workflows');

/** Shell words of a line (quotes kept out, `${{ }}` expressions kept whole). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (!quote && line.startsWith('${{', i)) {
      const end = line.indexOf('}}', i);
      cur += line.slice(i, end + 2);
      i = end + 1;
      inWord = true;
    } else if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Every `facelosses SUB --flag ...` in a run script: the subcommand and its flags. */
export function faceloss(script: string): { sub: string; flags: string[]; line: string }[] {
  const out: { sub: string; flags: string[]; line: string }[] = [];
  for (const line of script.replace(/\\\n/g, ' ').split('\n')) {
    const w = shellWords(line);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== 'facelosses' || (i > 0 && !['npx', 'exec', '$(npx', '&&', ';', '|'].includes(w[i - 1]!) && !w[i - 1]!.endsWith('$(npx'))) continue;
      const sub = w[i + 1] ?? '';
      const flags: string[] = [];
      for (let j = i + 2; j < w.length && !['|', '>', '>>', '&&', '||', ';', '2>&1'].includes(w[j]!) && !w[j]!.startsWith('>'); j++) {
        if (w[j]!.startsWith('-')) flags.push(w[j]!.split('=')[0]!);
      }
      out.push({ sub, flags, line: line.trim() });
    }
  }
  return out;
}

/** The flags of a subcommand, from its --help (hidden flags are not offered to a workflow). */
async function helpFlags(sub: string): Promise<Set<string>> {
  const r = await runCli([sub, '--help']);
  assert.equal(r.code, 0, `facelosses ${sub} --help: ${r.stderr}`);
  const flags = new Set<string>();
  for (const m of r.stdout.matchAll(/^\s+(?:(-\w), )?(--[\w-]+)/gm)) {
    if (m[1]) flags.add(m[1]);
    flags.add(m[2]!);
  }
  return flags;
}

test('every facelosses command of the workflows exists in the CLI, with its flags', async () => {
  const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length > 0, `no workflow in ${WORKFLOWS}`);
  const seen: { sub: string; flags: string[]; line: string; where: string }[] = [];
  for (const f of files) {
    const wf = parse(readFileSync(join(WORKFLOWS, f), 'utf8')) as { on?: unknown; jobs: Record<string, { steps?: { run?: string }[] }> };
    assert.ok(wf.jobs && typeof wf.jobs === 'object', `${f}: no jobs`);
    for (const [job, j] of Object.entries(wf.jobs)) for (const s of j.steps ?? []) if (s.run) for (const c of faceloss(s.run)) seen.push({ ...c, where: `${f} job ${job}` });
  }
  // The tests, the plan, the matrix of plain trains and the collect job.
  assert.deepEqual([...new Set(seen.map((c) => c.sub))].sort(), ['reproduce', 'train']);
  assert.ok(seen.some((c) => c.flags.includes('--plan')));
  assert.ok(seen.some((c) => c.flags.includes('--collect')));
  const help = new Map<string, Set<string>>();
  for (const c of seen) {
    if (!help.has(c.sub)) help.set(c.sub, await helpFlags(c.sub));
    for (const flag of c.flags) assert.ok(help.get(c.sub)!.has(flag), `${c.where}: facelosses ${c.sub} has no ${flag}: ${c.line}`);
  }
  const text = readFileSync(join(WORKFLOWS, 'ci.yml'), 'utf8');
  assert.match(text, /npm test/);
  assert.match(text, /upload-artifact/);
  assert.match(text, /fromJSON\(needs\.plan\.outputs\.runs\)/);
});

test('the command scanner finds commands and flags', () => {
  assert.deepEqual(faceloss('npx facelosses train --config "${{ matrix.run.file }}" --out=x --quiet\necho facelosses'), [{ sub: 'train', flags: ['--config', '--out', '--quiet'], line: 'npx facelosses train --config "${{ matrix.run.file }}" --out=x --quiet' }]);
  assert.deepEqual(faceloss('npx facelosses reproduce --plan > plan.json | jq --x')[0]!.flags, ['--plan']);
});

test('reproduce --plan gives the fields the matrix reads, one entry per config', async () => {
  const r = await runCli(['reproduce', '--plan', '--profile', 'quick']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as Record<string, unknown>[];
  // Every config, those of configs/3d/ included.
  const configs = readdirSync(join(ROOT, 'configs'), { recursive: true }).filter((f) => String(f).endsWith('.yaml'));
  assert.equal(plan.length, configs.length);
  for (const e of plan) {
    for (const k of ['name', 'stem', 'file', 'profile', 'jobId', 'dir', 'view', 'size', 'train', 'config']) assert.ok(e[k] !== undefined && e[k] !== '', `${String(e.stem)}: no ${k}`);
    assert.equal(e.profile, 'quick');
    assert.match(String(e.jobId), new RegExp(`^${String(e.name)}-quick-[0-9a-f]{16}$`));
    assert.equal(e.dir, `${String(e.name)}-quick`);
  }
  // The same plan twice: the same job ids (derived from config, profile and code version).
  const again = JSON.parse((await runCli(['reproduce', '--plan', '--profile', 'quick'])).stdout) as { jobId: string }[];
  assert.deepEqual(again.map((e) => e.jobId), plan.map((e) => e.jobId));
  const ci = JSON.parse((await runCli(['reproduce', '--plan', '--profile', 'ci', '--only', 'softmax'])).stdout) as { jobId: string }[];
  assert.equal(ci.length, 1);
  assert.ok(!plan.some((e) => e.jobId === ci[0]!.jobId));
});
