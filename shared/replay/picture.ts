import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { wallClock } from '../domain/schedule.ts';
import { alertSpans, costLines, gpuNodeHours, localStamp, peakOf, sizeSteps, targetsOf, windowSpans } from './report.ts';
import type { ReplayResult } from './replay.ts';

/** One replay to draw, named when a picture compares several (diff's old and new policy). */
export interface PictureRun {
  label: string;
  result: ReplayResult;
}

const LANE = { width: 960, height: 64 } as const;

/**
 * The Vega-Lite specification of a replay: one lane per target, its size over time (one line
 * per run), the bounds in force shaded, the window in force behind it and the alerts it held
 * along its top; GPU pools show their nodes and, dashed, a static pool sized for the peak.
 * Times are drawn as the policy's wall clock (the schedules' own reading), on a UTC scale so
 * that the renderer's time zone plays no part; on a fall-back day the repeated hour is drawn
 * over itself.
 */
export const pictureSpec = (runs: readonly PictureRun[], title: string): TopLevelSpec => {
  const first = runs[0]?.result;
  if (!first) throw new Error('a picture needs at least one replay');
  const zone = first.policy.timezone;
  const local = (instant: number) => wallClock(instant, zone);
  const compare = runs.length > 1;
  const sizes = runs.flatMap(({ label, result }) =>
    targetsOf(result).flatMap((target) => {
      const steps = sizeSteps(result, target.id);
      // The last point repeats the final size at the end, so the step line reaches it.
      return [...steps, { at: result.to, size: steps.at(-1)?.size ?? 0 }].map((s) => ({ run: label, target: target.id, at: local(s.at), size: s.size }));
    }),
  );
  const spans = targetsOf(first).flatMap((target) => windowSpans(first, target).map((w) => ({ ...w, start: local(w.start), end: local(w.end) })));
  const alerts = runs.flatMap(({ label, result }) => alertSpans(result).map((a) => ({ ...a, run: label, start: local(a.start), end: local(a.end) })));
  const peaks = runs.flatMap(({ label, result }) => gpuNodeHours(result).map((p) => ({ run: label, target: p.pool, peak: p.peak })));
  // The scale and axis are given once, on the bounds layer of each lane; the lanes share them.
  // The spans cover the replay edge to edge, so the data make the domain.
  const x = { type: 'temporal' as const };
  const xScale = {
    ...x,
    scale: { type: 'utc' as const, nice: false },
    axis: { format: '%a %d %H:%M', title: null, labelFontSize: 9, tickCount: 14 },
  };
  const stroke = compare
    ? { stroke: { field: 'run', type: 'nominal' as const, title: 'policy', legend: { orient: 'top' as const } } }
    : {};
  const lanes = targetsOf(first).map((target) => {
    const only = `datum.target === '${target.id}'`;
    const top = Math.max(...runs.map(({ result }) => peakOf(sizeSteps(result, target.id))), ...spans.filter((w) => w.target === target.id).map((w) => w.min)) + 1;
    const y = { type: 'quantitative' as const, scale: { domain: [0, top], nice: false }, axis: { title: null, tickMinStep: 1, labelFontSize: 9 } };
    const pool = peaks.some((p) => p.target === target.id);
    const what = pool ? `GPU nodes, ${target.min}-${target.max}` : `${target.kind}, ${target.min}-${target.max}`;
    return {
      title: { text: `${target.id} (${what})`, anchor: 'start' as const, fontSize: 12 },
      width: LANE.width,
      height: LANE.height,
      layer: [
        {
          data: { name: 'spans' },
          transform: [{ filter: `${only} && datum.window !== null` }],
          mark: { type: 'rect' as const, opacity: 0.25 },
          encoding: { x: { field: 'start', ...x }, x2: { field: 'end' }, fill: { field: 'window', type: 'nominal' as const, title: 'window in force' } },
        },
        {
          data: { name: 'spans' },
          transform: [{ filter: only }],
          mark: { type: 'rect' as const, color: '#7f7f7f', opacity: 0.15, clip: true },
          encoding: { x: { field: 'start', ...xScale }, x2: { field: 'end' }, y: { field: 'min', ...y }, y2: { field: 'max' } },
        },
        {
          data: { name: 'alerts' },
          transform: [{ filter: only }],
          mark: { type: 'rect' as const, color: '#d62728', opacity: 0.7 },
          encoding: { x: { field: 'start', ...x }, x2: { field: 'end' }, y: { value: 0 }, y2: { value: 5 } },
        },
        {
          data: { name: 'alerts' },
          transform: [{ filter: only }],
          mark: { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dy: 6, fontSize: 8, color: '#d62728' },
          encoding: { x: { field: 'start', ...x }, y: { value: 0 }, text: { field: 'alert' } },
        },
        ...(pool
          ? [{
              data: { name: 'peaks' },
              transform: [{ filter: only }],
              mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#555' },
              encoding: { y: { field: 'peak', ...y } },
            }]
          : []),
        {
          data: { name: 'sizes' },
          transform: [{ filter: only }],
          mark: { type: 'line' as const, interpolate: 'step-after' as const, strokeWidth: 2, ...(compare ? {} : { color: '#1f77b4' }) },
          encoding: { x: { field: 'at', ...x }, y: { field: 'size', ...y }, ...stroke },
        },
      ],
    };
  });
  const summary = runs.flatMap(({ label, result }) => costLines(gpuNodeHours(result)).map((line) => (compare ? `${label}: ${line}` : line)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: [`${localStamp(first.from, zone)} .. ${localStamp(first.to, zone)}, times in ${zone}; shaded: bounds in force; red: alerts`, ...summary], anchor: 'start' },
    config: { font: 'sans-serif', view: { stroke: '#ddd' }, concat: { spacing: 14 } },
    datasets: { sizes, spans, alerts, peaks },
    resolve: { scale: { x: 'shared', fill: 'shared', stroke: 'shared' } },
    vconcat: lanes,
  } as TopLevelSpec;
};

/** Renders a specification to SVG in this process: Vega's own renderer, no browser. */
export const renderSvg = async (spec: TopLevelSpec): Promise<string> => {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
};

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export interface HtmlTable {
  caption: string;
  header: string[];
  rows: string[][];
}

/** A page that needs nothing else: the summary, the picture inline and the tables of transitions. */
export const renderHtml = (page: { title: string; summary: readonly string[]; svg: string; tables: readonly HtmlTable[] }): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(page.title)}</title>
<style>
  body { font-family: sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; font-size: 0.85rem; margin-bottom: 2rem; }
  caption { text-align: left; font-weight: bold; padding: 0.4rem 0; }
  th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; }
  .picture { overflow-x: auto; }
</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
<ul>
${page.summary.map((line) => `  <li>${escapeHtml(line)}</li>`).join('\n')}
</ul>
<div class="picture">
${page.svg}
</div>
${page.tables
  .map(
    (table) => `<table>
<caption>${escapeHtml(table.caption)}</caption>
<thead><tr>${table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n')}
</tbody>
</table>`,
  )
  .join('\n')}
</body>
</html>
`;
