/**
 * An SVG timeline of a run: one lane per lock name with a bar per critical section (coloured by
 * worker; overlapping bars are stacked), a red marker where a loss signal fired, a black cross per
 * write the resource rejected as stale, a red outline on sections involved in a violation, and one
 * lane per worker showing its SIGSTOP pauses. Times are seconds since the start of the run.
 */
import { lockSections, type CheckResult } from './checker';
import type { History, SectionRecord } from './history';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79'];
const WIDTH = 1400;
const LEFT = 130;
const RIGHT = 20;
const ROW = 13;
const LANE_GAP = 10;

export interface TimelineWindow {
  readonly from: number;
  readonly to: number;
}

/** The whole run if it is short, else `maxSeconds` starting a little before the first pause. */
export function defaultWindow(history: History, maxSeconds = 60): TimelineWindow {
  const { startedAt, stoppedAt, pauses } = history.run;
  const end = Math.max(stoppedAt, ...history.sections.map((s) => s.end));
  if (end - startedAt <= maxSeconds * 1_000 * 1.5) return { from: startedAt, to: end };
  const from = pauses.length > 0 ? Math.max(startedAt, pauses[0]!.stopAt - 5_000) : startedAt;
  return { from, to: from + maxSeconds * 1_000 };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderTimeline(history: History, check: CheckResult | undefined, window: TimelineWindow = defaultWindow(history)): string {
  const { run } = history;
  const span = Math.max(1, window.to - window.from);
  const x = (t: number): number => LEFT + ((Math.min(Math.max(t, window.from), window.to) - window.from) / span) * (WIDTH - LEFT - RIGHT);
  const rel = (t: number): string => ((t - run.startedAt) / 1000).toFixed(3);
  const colour = (worker: number): string => PALETTE[worker % PALETTE.length]!;
  const bad = new Set<string>();
  for (const v of check?.violations ?? []) {
    for (let i = 0; i < (v.pids?.length ?? 0); i++) bad.add(`${v.name ?? ''}|${v.pids![i]}|${String(v.tokens?.[i] ?? '')}`);
  }
  const isBad = (s: SectionRecord): boolean => bad.has(`${s.name}|${s.pid}|${String(s.token ?? '')}`);

  const parts: string[] = [];
  let y = 40;
  // time axis
  const stepS = niceStep(span / 1000 / 12);
  const axis: string[] = [];
  const first = Math.ceil((window.from - run.startedAt) / 1000 / stepS) * stepS;
  for (let s = first; run.startedAt + s * 1000 <= window.to; s += stepS) {
    const tx = x(run.startedAt + s * 1000);
    axis.push(`<line x1="${tx.toFixed(1)}" y1="${y - 6}" x2="${tx.toFixed(1)}" y2="__BOTTOM__" stroke="#ddd"/>`);
    axis.push(`<text x="${tx.toFixed(1)}" y="${y - 10}" font-size="10" text-anchor="middle">${Number(s.toFixed(3))} s</text>`);
  }
  parts.push(...axis);

  // one lane per lock name: the names, each semaphore's permits, the elections (a multi-name section is drawn on each of its names)
  const judged = lockSections(history.sections);
  const lanes = [...run.names];
  for (const [semaphore, permits] of Object.entries(run.semaphores ?? {})) for (let i = 0; i < permits; i++) lanes.push(`${semaphore}#permit-${i}`);
  lanes.push(...(run.elections ?? []));
  for (const name of lanes) {
    const sections = judged.filter((s) => s.name === name && s.end >= window.from && s.start <= window.to).sort((a, b) => a.start - b.start);
    // stack overlapping sections in rows
    const rowEnds: number[] = [];
    const placed = sections.map((s) => {
      let row = rowEnds.findIndex((e) => e <= s.start);
      if (row < 0) row = rowEnds.push(0) - 1;
      rowEnds[row] = s.end;
      return { s, row };
    });
    const rows = Math.max(1, rowEnds.length);
    const laneH = rows * ROW + 6;
    parts.push(`<rect x="${LEFT}" y="${y}" width="${WIDTH - LEFT - RIGHT}" height="${laneH}" fill="#f7f7f7" stroke="#ccc"/>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + laneH / 2 + 4}" font-size="12" text-anchor="end">${esc(name)}</text>`);
    for (const { s, row } of placed) {
      const x1 = x(s.start);
      const w = Math.max(1, x(s.end) - x1);
      const top = y + 3 + row * ROW;
      const title = `worker ${s.worker} (pid ${s.pid}) ${s.api}${s.kind === 'multi' ? ` [${(s.names ?? []).join(', ')}]` : s.kind === 'term' ? ' term' : ''} token ${String(s.token)}: ${rel(s.start)}..${rel(s.end)} s` + (s.lossAt !== null ? `, loss (${s.lossReason}) at ${rel(s.lossAt)} s` : '') + `, waited ${s.waitedMs.toFixed(0)} ms, ${s.writes.length} writes`;
      const stroke = isBad(s) ? ' stroke="#d00" stroke-width="2"' : '';
      parts.push(`<rect x="${x1.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${ROW - 3}" fill="${colour(s.worker)}" fill-opacity="0.85"${stroke}><title>${esc(title)}</title></rect>`);
      if (s.lossAt !== null && s.lossAt >= window.from && s.lossAt <= window.to) {
        const lx = x(s.lossAt);
        parts.push(`<path d="M${(lx - 4).toFixed(1)},${top - 2} L${(lx + 4).toFixed(1)},${top - 2} L${lx.toFixed(1)},${top + 5} Z" fill="#d00"><title>${esc(`loss signal (${s.lossReason}) at ${rel(s.lossAt)} s`)}</title></path>`);
      }
      for (const wr of s.writes) {
        if (wr.accepted !== false || wr.at < window.from || wr.at > window.to) continue;
        const wx = x(wr.at);
        const cy = top + (ROW - 3) / 2;
        parts.push(`<path d="M${(wx - 3).toFixed(1)},${cy - 3} l6,6 m0,-6 l-6,6" stroke="#000" stroke-width="1.5"><title>${esc(`stale write (token ${wr.token}) rejected at ${rel(wr.at)} s`)}</title></path>`);
      }
    }
    y += laneH + LANE_GAP;
  }

  // pauses
  y += 6;
  parts.push(`<text x="${LEFT - 8}" y="${y}" font-size="11" text-anchor="end" font-weight="bold">SIGSTOP</text>`);
  y += 6;
  for (const w of run.workers) {
    parts.push(`<rect x="${LEFT}" y="${y}" width="${WIDTH - LEFT - RIGHT}" height="${ROW}" fill="#fbfbfb" stroke="#eee"/>`);
    const skew = w.skewMs === 0 ? '' : ` (clock ${w.skewMs > 0 ? '+' : '-'}${Math.abs(w.skewMs / 3_600_000)} h)`;
    parts.push(`<rect x="${LEFT - 12}" y="${y + 2}" width="9" height="9" fill="${colour(w.index)}"/>`);
    parts.push(`<text x="${LEFT - 16}" y="${y + 10}" font-size="10" text-anchor="end">worker ${w.index}${esc(skew)}</text>`);
    for (const p of run.pauses.filter((p) => p.worker === w.index && p.contAt >= window.from && p.stopAt <= window.to)) {
      const px = x(p.stopAt);
      parts.push(`<rect x="${px.toFixed(1)}" y="${y + 1}" width="${Math.max(1, x(p.contAt) - px).toFixed(1)}" height="${ROW - 2}" fill="#555" fill-opacity="0.6"><title>${esc(`paused ${rel(p.stopAt)}..${rel(p.contAt)} s`)}</title></rect>`);
    }
    y += ROW + 2;
  }
  const bottom = y + 10;
  const header =
    `<text x="10" y="16" font-size="13" font-weight="bold">${esc(`${run.protocol} on ${run.store}: holders per lock, ${rel(window.from)}..${rel(window.to)} s (ttl ${run.ttlMs} ms)`)}</text>` +
    `<text x="${WIDTH - RIGHT}" y="16" font-size="11" text-anchor="end">${esc(`bars: critical sections by worker; red triangle: loss signal; x: stale write rejected; red outline: violation (${check?.violations.length ?? 0})`)}</text>`;
  const body = parts.join('\n').replace(/__BOTTOM__/g, String(bottom - 10));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${bottom}" viewBox="0 0 ${WIDTH} ${bottom}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${header}\n${body}\n</svg>\n`;
}

function niceStep(raw: number): number {
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];
  return steps.find((s) => s >= raw) ?? 600;
}
