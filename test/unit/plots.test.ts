/**
 * The figures of the fixture runs (test/fixtures/results/, see compare.test.ts)
 * render headless: Vega-Lite -> Vega -> SVG, and SVG -> PNG with resvg. The
 * SVG carries the expected series; the PNG is decoded here (chunks, CRCs,
 * zlib, scanline filters) and has the SVG's size times the render scale.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Io } from '../../src/commands/compare';
import { plotCommand } from '../../src/commands/plot';
import { loadRuns, Run } from '../../src/compare/runs';
import { buildComparison, Comparison } from '../../src/compare/table';
import { buildFigures, Figure, FigureName } from '../../src/plots/figures';
import { PNG_SCALE, render, Rendered, svgSize, systemFontDirs } from '../../src/plots/render';
import { textWidth } from '../../src/plots/text-metrics';
import { hashName, PALETTE, stableColors } from '../../src/plots/colors';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'results');

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-plot-'));
  made.push(d);
  return d;
}

// ---- A small PNG decoder: enough to prove the file is a valid image. ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Png {
  width: number;
  height: number;
  channels: number;
  /** Unfiltered pixel bytes, row after row. */
  pixels: Buffer;
}

function decodePng(png: Buffer): Png {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  let at = 8;
  const chunks: { type: string; data: Buffer }[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    assert.equal(png.readUInt32BE(at + 8 + len), crc32(png.subarray(at + 4, at + 8 + len)), `CRC of ${type}`);
    chunks.push({ type, data });
    at += 12 + len;
    if (type === 'IEND') break;
  }
  assert.equal(chunks[0].type, 'IHDR');
  assert.equal(chunks[chunks.length - 1].type, 'IEND');
  const ihdr = chunks[0].data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const [depth, colour, , , interlace] = [ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]];
  assert.equal(depth, 8);
  assert.equal(interlace, 0);
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colour];
  assert.ok(channels, `colour type ${colour}`);
  const raw = zlib.inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1), 'decompressed size');
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let pred: number;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          assert.fail(`filter ${filter}`);
      }
      pixels[y * stride + x] = (line[x] + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** Fraction of pixels that are clearly not white. */
function inkFraction(p: Png): number {
  let ink = 0;
  for (let i = 0; i < p.pixels.length; i += p.channels) {
    if (Math.min(p.pixels[i], p.pixels[i + Math.min(1, p.channels - 1)], p.pixels[i + Math.min(2, p.channels - 1)]) < 200) ink += 1;
  }
  return ink / (p.width * p.height);
}

/** The values of every aria-label="..." in an SVG. */
function ariaLabels(svg: string): string[] {
  return [...svg.matchAll(/aria-label="([^"]*)"/g)].map((m) => m[1]);
}

function textsOf(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
}

// ---- The figures ----

describe('figures of the fixture runs', () => {
  let runs: Run[];
  let comparison: Comparison;
  let figures: Figure[];
  const rendered = new Map<FigureName, Rendered>();
  const figure = (name: FigureName) => {
    const f = figures.find((x) => x.name === name);
    const r = rendered.get(name);
    assert.ok(f && r, `no ${name}`);
    return { f, svg: r.svg, r };
  };

  before(async () => {
    runs = loadRuns(FIXTURES).runs;
    comparison = buildComparison(runs);
    figures = buildFigures(runs, comparison);
    for (const f of figures) rendered.set(f.name, await render(f.spec));
  });

  it('are Figure 1(a), 1(b, c) and 2', () => {
    assert.deepEqual(
      figures.map((f) => f.name),
      ['figure1a', 'figure1bc', 'figure2'],
    );
  });

  it('Figure 1(a): one accuracy line per MNIST-net run, one legend entry per config', () => {
    const { f, svg } = figure('figure1a');
    // Table order: dataset by dataset, the baseline first; two datasets, so each name says which.
    assert.deepEqual(f.series, ['fashion-bn [fashion-mnist]', 'mnist-baseline [mnist]', 'mnist-bn [mnist]', 'mnist-bn-killed [mnist]', 'mnist-bn-lr5 [mnist]']);
    const legend = ariaLabels(svg).find((l) => l.startsWith('Symbol legend'));
    assert.equal(legend, `Symbol legend titled 'network' for fill color and stroke color with 5 values: ${f.series.join(', ')}`);
    assert.equal((svg.match(/class="mark-line role-mark/g) ?? []).length, 6, 'six runs, six lines');
    for (const id of ['mnist-bn-s1', 'mnist-bn-s2', 'mnist-bn-lr5', 'mnist-bn-killed', 'mnist-baseline', 'fashion-bn']) {
      assert.ok(
        ariaLabels(svg).some((l) => l.endsWith(`run: ${id}`)),
        id,
      );
    }
    // The diverged run stops at its last evaluation, the killed one before its cut line.
    assert.ok(ariaLabels(svg).includes('step: 100; test accuracy: 50%; network: mnist-bn-lr5 [mnist]; run: mnist-bn-lr5'));
    assert.ok(!ariaLabels(svg).some((l) => l.startsWith('step: 300') && l.includes('mnist-bn-killed')));
    assert.ok(!svg.includes('inception'));
    const texts = textsOf(svg);
    for (const t of ['Figure 1(a): MNIST nets, test accuracy vs training steps', 'training steps', 'test accuracy', 'network']) assert.ok(texts.includes(t), t);
  });

  it('Figure 1(b, c): a 15/50/85 band per MNIST net with activations, baseline first, shared y scale, three line styles', () => {
    const { f, svg } = figure('figure1bc');
    assert.deepEqual(f.series, ['mnist-baseline: layer 2, unit 0', 'mnist-bn: layer 2, unit 0']);
    const texts = textsOf(svg);
    for (const s of f.series) assert.ok(texts.includes(s), s);
    assert.ok(ariaLabels(svg).includes("Symbol legend titled 'percentile' for stroke color and strokeDash with 3 values: 15th, 50th, 85th"));
    assert.equal((svg.match(/class="mark-area role-mark/g) ?? []).length, 2, 'one band per panel');
    // Unit 0 of layer 2: the baseline's median drifts to -6 by step 500, mnist-bn's first seed only to -0.4.
    const values = (f.spec as { data?: { values?: Record<string, unknown>[] } }).data?.values ?? [];
    const at500 = values.filter((v) => v.step === 500).map((v) => [v.panel, v['15th'], v['50th'], v['85th']]);
    assert.deepEqual(at500, [
      ['mnist-baseline: layer 2, unit 0', -10, -6, -2],
      ['mnist-bn: layer 2, unit 0', -1.6, -0.4, 0.8],
    ]);
    assert.equal(values.length, 12);
    // Shared y: both panels' axes span the same values.
    const yAxes = ariaLabels(svg).filter((l) => l.startsWith('Y-axis'));
    assert.deepEqual(yAxes, Array(2).fill("Y-axis titled 'sigmoid input' for a linear scale with values from −10 to 1"));
    // The 15th and 85th percentiles are drawn differently from each other and from the median.
    const styles = (
      f.spec as unknown as {
        vconcat: { hconcat: { layer: { encoding?: { strokeDash?: { scale: { range: number[][] } }; color?: { scale: { range: string[] } } } }[] }[] }[];
      }
    ).vconcat[0].hconcat[0].layer[1].encoding;
    const dash = styles?.strokeDash?.scale.range.map((d) => d.join(','));
    const color = styles?.color?.scale.range;
    assert.ok(dash && color);
    assert.equal(new Set(dash).size, 3, `dashes ${JSON.stringify(dash)}`);
    assert.equal(new Set(color).size, 3, `colours ${JSON.stringify(color)}`);
    // The subtitle says what is drawn, and what BN's gamma does to it; it promises no stability.
    // (A subtitle of several lines is drawn as tspans of one text element.)
    assert.ok(svg.includes('15th, 50th, 85th percentiles over the test set'));
    assert.ok(svg.includes('band can widen as γ grows'));
    assert.ok(!svg.includes('stable with'));
  });

  it('Figure 1(b, c): one row per baseline/BN pair, the baseline repeated, no empty cell', async () => {
    // A third MNIST net with BN (another learning rate): two rows, mnist-baseline | mnist-bn and mnist-baseline | mnist-bn {lr=2}.
    const dir = tmpDir();
    for (const id of ['mnist-baseline', 'mnist-bn-s1']) fs.cpSync(path.join(FIXTURES, id), path.join(dir, id), { recursive: true });
    fs.cpSync(path.join(FIXTURES, 'mnist-bn-s2'), path.join(dir, 'mnist-bn-lr2'), { recursive: true });
    const cfgFile = path.join(dir, 'mnist-bn-lr2', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { name: string; optimizer: { learningRate: number } };
    cfg.name = 'mnist-bn-lr2';
    cfg.optimizer.learningRate = 2;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const three = loadRuns(dir).runs;
    const f = buildFigures(three, buildComparison(three)).find((x) => x.name === 'figure1bc');
    assert.ok(f);
    const rows = (f.spec as unknown as { vconcat: { hconcat: { title: { text: string } }[] }[] }).vconcat.map((r) => r.hconcat.map((p) => p.title.text));
    assert.deepEqual(rows, [
      ['mnist-baseline: layer 2, unit 0', 'mnist-bn: layer 2, unit 0'],
      ['mnist-baseline: layer 2, unit 0', 'mnist-bn-lr2: layer 2, unit 0'],
    ]);
    const svg = (await render(f.spec)).svg;
    assert.equal((svg.match(/class="mark-area role-mark/g) ?? []).length, 4, 'four panels, each with its band');
    assert.equal(ariaLabels(svg).filter((l) => l.startsWith('X-axis')).length, 4, 'no cell without a plot');
  });

  it('Figure 1(b, c): a BN net is paired with its twin without BN, a plain net left over gets its own row', () => {
    const dir = tmpDir();
    const copy = (from: string, to: string, patch: (c: Record<string, Record<string, unknown>>) => void) => {
      fs.cpSync(path.join(FIXTURES, from), path.join(dir, to), { recursive: true });
      const file = path.join(dir, to, 'config.json');
      const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
      patch(c);
      fs.writeFileSync(file, JSON.stringify(c));
    };
    fs.cpSync(path.join(FIXTURES, 'mnist-baseline'), path.join(dir, 'mnist-baseline'), { recursive: true });
    fs.cpSync(path.join(FIXTURES, 'mnist-bn-s1'), path.join(dir, 'mnist-bn'), { recursive: true });
    // A plain net at rate 2 and its BN twin; and a plain relu net with no BN twin.
    copy('mnist-baseline', 'plain-lr2', (c) => Object.assign(c, { name: 'plain-lr2', paper: null, optimizer: { ...c.optimizer, learningRate: 2 } }));
    copy('mnist-bn-s2', 'bn-lr2', (c) => Object.assign(c, { name: 'bn-lr2', paper: null, optimizer: { ...c.optimizer, learningRate: 2 } }));
    copy('mnist-baseline', 'plain-relu', (c) => Object.assign(c, { name: 'plain-relu', paper: null, model: { ...c.model, activation: 'relu' } }));
    const loaded = loadRuns(dir).runs;
    const f = buildFigures(loaded, buildComparison(loaded)).find((x) => x.name === 'figure1bc');
    assert.ok(f);
    const rows = (f.spec as unknown as { vconcat: { hconcat: { title: { text: string } }[] }[] }).vconcat.map((r) =>
      r.hconcat.map((p) => p.title.text.replace(/: layer.*/, '')),
    );
    assert.deepEqual(rows, [['plain-relu'], ['mnist-baseline', 'mnist-bn'], ['plain-lr2', 'bn-lr2']]);
  });

  it('Figure 2: every Inception-family run and the target line', () => {
    const { f, svg } = figure('figure2');
    assert.deepEqual(f.series, ['inception', 'bn-x5', 'bn-x5-sigmoid']);
    assert.ok(ariaLabels(svg).includes("Symbol legend titled 'network' for fill color and stroke color with 3 values: inception, bn-x5, bn-x5-sigmoid"));
    assert.equal((svg.match(/class="mark-line role-mark/g) ?? []).length, 3);
    assert.equal((svg.match(/class="mark-rule role-mark/g) ?? []).length, 1, 'the target rule');
    assert.ok(
      ariaLabels(svg).some((l) => l === 'target: 0.62'),
      'rule at 0.62',
    );
    assert.ok(textsOf(svg).includes("target 62.00% (inception's best)"));
    assert.ok(!svg.includes('mnist'));
  });

  it('Figure 2 without a target: no dashed line, and the subtitle does not mention one', async () => {
    const dir = tmpDir();
    for (const id of ['bn-x5', 'bn-x5-sigmoid']) fs.cpSync(path.join(FIXTURES, 'imagenet', id), path.join(dir, id), { recursive: true });
    const loaded = loadRuns(dir).runs;
    const f = buildFigures(loaded, buildComparison(loaded)).find((x) => x.name === 'figure2');
    assert.ok(f);
    const svg = (await render(f.spec)).svg;
    assert.equal((svg.match(/class="mark-rule role-mark/g) ?? []).length, 0);
    const subtitle = textsOf(svg).find((t) => t.startsWith('one line per run'));
    assert.equal(subtitle, 'one line per run, seeds of one config in one colour; no target (no baseline and no --target), so no target line');
    assert.ok(!textsOf(svg).some((t) => t.includes('dashed')));
  });

  it('a run keeps its colour whatever else is compared beside it', () => {
    const colourOf = (ids: string[], figureName: FigureName, series: string) => {
      const dir = tmpDir();
      for (const id of ids) fs.cpSync(path.join(FIXTURES, id), path.join(dir, path.basename(id)), { recursive: true });
      const loaded = loadRuns(dir).runs;
      const f = buildFigures(loaded, buildComparison(loaded)).find((x) => x.name === figureName);
      assert.ok(f);
      const enc = f.spec as unknown as {
        encoding?: { color: { scale: { domain: string[]; range: string[] } } };
        layer?: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[];
      };
      const scale = (enc.encoding ?? enc.layer?.[0].encoding)?.color.scale;
      assert.ok(scale);
      assert.equal(new Set(scale.range).size, scale.range.length, 'no two series alike');
      return scale.range[scale.domain.indexOf(series)];
    };
    const alone = colourOf(['mnist-bn-s1'], 'figure1a', 'mnist-bn');
    assert.equal(colourOf(['mnist-baseline', 'mnist-bn-s1', 'mnist-bn-s2', 'mnist-bn-lr5'], 'figure1a', 'mnist-bn'), alone);
    assert.equal(colourOf(['mnist-bn-killed', 'mnist-bn-s1'], 'figure1a', 'mnist-bn'), alone);
    const bnx5 = colourOf(['imagenet/bn-x5'], 'figure2', 'bn-x5');
    assert.equal(colourOf(['imagenet/inception', 'imagenet/bn-x5', 'imagenet/bn-x5-sigmoid'], 'figure2', 'bn-x5'), bnx5);
  });

  it('the target line follows --target', async () => {
    const c = buildComparison(runs, { target: 0.65 });
    const f = buildFigures(runs, c).find((x) => x.name === 'figure2');
    assert.ok(f);
    const svg = (await render(f.spec)).svg;
    assert.ok(textsOf(svg).includes('target 65.00% (--target)'));
  });

  it('PNGs decode, at the SVG size times the scale, with ink on them', () => {
    for (const f of figures) {
      const { svg, r } = figure(f.name);
      const size = svgSize(svg);
      const png = decodePng(r.png);
      assert.equal(png.width, Math.round(size.width * PNG_SCALE), `${f.name} width`);
      assert.equal(png.height, Math.round(size.height * PNG_SCALE), `${f.name} height`);
      assert.equal([png.width, png.height].join('x'), [r.width, r.height].join('x'));
      assert.ok(png.width > 800 && png.height > 500, `${f.name} ${png.width}x${png.height}`);
      const ink = inkFraction(png);
      assert.ok(ink > 0.005 && ink < 0.5, `${f.name}: ${ink} of the pixels inked`);
    }
  });

  it('PNG text is drawn when the system has fonts', { skip: systemFontDirs().length === 0 ? 'no system fonts' : false }, async () => {
    // The same figure without any text must have clearly less ink.
    const f = figure('figure2');
    const bare = await render({
      ...f.f.spec,
      title: undefined,
      config: { ...(f.f.spec.config ?? {}), axis: { labels: false, title: null }, legend: { disable: true } },
    } as typeof f.f.spec);
    assert.ok(inkFraction(decodePng(f.r.png)) > inkFraction(decodePng(bare.png)) + 0.002);
  });

  it('layout uses DejaVu Sans widths, not Vega’s 0.8 em per character', () => {
    assert.equal(textWidth({ fontSize: 10 }, 'a'), 6.13);
    assert.ok(textWidth({ fontSize: 10, fontWeight: 'bold' }, 'abc') > textWidth({ fontSize: 10 }, 'abc'));
    // The SVG is about as wide as its content: not padded by over-estimated text.
    const { svg } = figure('figure1bc');
    assert.ok(svgSize(svg).width < 900, `figure1bc is ${svgSize(svg).width} wide`);
  });
});

describe('plotCommand', () => {
  it('writes SVG and PNG for each figure and exits 0', async () => {
    const out = tmpDir();
    const err: string[] = [];
    const io: Io = { stdout: () => assert.fail('plot prints no table'), stderr: (l) => void err.push(l) };
    assert.equal(await plotCommand(FIXTURES, { out }, io), 0);
    const names = ['figure1a', 'figure1bc', 'figure2'];
    assert.deepEqual(
      fs.readdirSync(out).sort(),
      names.flatMap((n) => [`${n}.png`, `${n}.svg`]),
    );
    for (const n of names) {
      const svg = fs.readFileSync(path.join(out, `${n}.svg`), 'utf8');
      const png = decodePng(fs.readFileSync(path.join(out, `${n}.png`)));
      assert.equal(png.width, Math.round(svgSize(svg).width * PNG_SCALE));
    }
    assert.equal(err[err.length - 1], `figures: figure1a, figure1bc, figure2 (.svg, .png) in ${out}`);
  });

  it('exits 1 with one line when there is nothing to plot', async () => {
    const dir = tmpDir();
    const err: string[] = [];
    assert.equal(await plotCommand(dir, {}, { stdout: () => undefined, stderr: (l) => void err.push(l) }), 1);
    assert.equal(err.length, 1);
    assert.match(err[0], /no runs found/);
  });
});

describe('stable colours', () => {
  it('hash a name into the palette, the same every time', () => {
    assert.equal(hashName(''), 0x811c9dc5);
    assert.equal(hashName('a'), 0xe40c292c);
    assert.equal(stableColors(['mnist-bn'])[0], PALETTE[hashName('mnist-bn') % PALETTE.length]);
    assert.deepEqual(stableColors(['b', 'a']), [...stableColors(['a', 'b'])].reverse());
  });
  it('give the names of one figure distinct colours while the palette lasts', () => {
    const names = Array.from({ length: PALETTE.length }, (_, i) => `run-${i}`);
    assert.equal(new Set(stableColors(names)).size, PALETTE.length);
    assert.deepEqual(stableColors(['x', 'x']), [stableColors(['x'])[0], stableColors(['x'])[0]]);
  });
});
