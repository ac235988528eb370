/**
 * bench-out/latency.svg, drawn by hand: per store and protocol, horizontal bars of the median and
 * p99 of a warm acquire + release next to the same S3 calls made directly (and redlock, if run).
 */
import type { BenchResults } from './results';
import type { Summary } from './stats';

interface Group {
  readonly label: string;
  readonly bars: ReadonlyArray<{ readonly series: Series; readonly value: number }>;
}

type Series = 'lock median' | 'lock p99' | 'raw median' | 'raw p99' | 'redlock median' | 'redlock p99';

const COLORS: Record<Series, string> = {
  'lock median': '#2b6cb0',
  'lock p99': '#90cdf4',
  'raw median': '#2f855a',
  'raw p99': '#9ae6b4',
  'redlock median': '#c05621',
  'redlock p99': '#fbd38d',
};

const WIDTH = 900;
const LABEL_W = 190;
const PLOT_W = WIDTH - LABEL_W - 90;
const BAR_H = 11;
const BAR_GAP = 2;
const GROUP_GAP = 14;
const TOP = 58;

export function renderLatencyChart(results: BenchResults): string {
  const groups: Group[] = [];
  for (const c of results.columns) {
    if (!c.latency) continue;
    groups.push({ label: c.label, bars: [...pair('lock', c.latency.engine), ...pair('raw', c.latency.raw)] });
  }
  const r = results.redlock;
  if (r?.latency) groups.push({ label: 'redlock · local Redis', bars: pair('redlock', r.latency) });

  const max = niceMax(Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => b.value))));
  const x = (v: number): number => LABEL_W + (v / max) * PLOT_W;
  const height = TOP + groups.reduce((h, g) => h + g.bars.length * (BAR_H + BAR_GAP) + GROUP_GAP, 0) + 30;
  const svg: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${LABEL_W}" y="18" font-size="14" font-weight="bold">Warm acquire + release latency (ms): lock vs the same S3 calls made directly</text>`,
  ];
  const legend = (Object.keys(COLORS) as Series[]).filter((s) => groups.some((g) => g.bars.some((b) => b.series === s)));
  legend.forEach((s, i) => {
    const lx = LABEL_W + i * 110;
    svg.push(`<rect x="${lx}" y="28" width="10" height="10" fill="${COLORS[s]}"/><text x="${lx + 14}" y="37">${s}</text>`);
  });
  const bottom = height - 24;
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    svg.push(`<line x1="${x(v)}" y1="${TOP - 6}" x2="${x(v)}" y2="${bottom}" stroke="#e2e8f0"/>`);
    svg.push(`<text x="${x(v)}" y="${bottom + 14}" text-anchor="middle" fill="#4a5568">${tick(v)}${i === 5 ? ' ms' : ''}</text>`);
  }
  let y = TOP;
  for (const g of groups) {
    const groupH = g.bars.length * (BAR_H + BAR_GAP);
    svg.push(`<text x="${LABEL_W - 8}" y="${y + groupH / 2 + 4}" text-anchor="end">${escape(g.label)}</text>`);
    for (const b of g.bars) {
      svg.push(`<rect x="${LABEL_W}" y="${y}" width="${Math.max(1, x(b.value) - LABEL_W).toFixed(1)}" height="${BAR_H}" fill="${COLORS[b.series]}"><title>${b.series}: ${b.value.toFixed(2)} ms</title></rect>`);
      svg.push(`<text x="${(x(b.value) + 4).toFixed(1)}" y="${y + BAR_H - 2}" fill="#2d3748">${b.value.toFixed(b.value < 10 ? 2 : 1)}</text>`);
      y += BAR_H + BAR_GAP;
    }
    y += GROUP_GAP;
  }
  svg.push(`<line x1="${LABEL_W}" y1="${TOP - 6}" x2="${LABEL_W}" y2="${bottom}" stroke="#4a5568"/>`);
  svg.push('</svg>');
  return svg.join('\n') + '\n';
}

function pair(kind: 'lock' | 'raw' | 'redlock', s: Summary): Group['bars'] {
  return [
    { series: `${kind} median` as Series, value: s.median },
    { series: `${kind} p99` as Series, value: s.p99 },
  ];
}

/** 1, 2 or 5 times a power of ten, at least `v`. */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v)!;
}

function tick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
