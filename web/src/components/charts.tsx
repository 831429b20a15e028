// Hand-drawn charts (SVG and CSS, no chart library): stacked columns for sales per month and
// segment, horizontal bars for rankings, stacked horizontal bars for price groups. Each chart has
// a text alternative (titles and a table nearby), so the numbers are never only in pixels.

import { colourFor, stack, ticks } from "../charts/scale";

export interface ColumnSeries {
  /** x-axis categories, left to right. */
  categories: string[];
  /** Series keys, bottom to top in each column. */
  keys: string[];
  value: (category: string, key: string) => number;
  formatCategory: (category: string) => string;
  formatValue: (value: number) => string;
  /** A short form for the axis (defaults to formatValue). */
  formatTick?: (value: number) => string;
  keyLabel: (key: string) => string;
}

const W = 640;
const H = 280;
const PAD = { left: 64, right: 12, top: 12, bottom: 40 };

export function StackedColumns({ data, title }: { data: ColumnSeries; title: string }) {
  const totals = data.categories.map((c) => data.keys.reduce((sum, k) => sum + data.value(c, k), 0));
  const axis = ticks(Math.max(0, ...totals));
  const top = axis[axis.length - 1] ?? 1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, data.categories.length);
  const barW = Math.min(56, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        {axis.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} class="grid" />
            <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end" class="tick">
              {(data.formatTick ?? data.formatValue)(t)}
            </text>
          </g>
        ))}
        {data.categories.map((category, i) => {
          const x = PAD.left + slot * i + (slot - barW) / 2;
          const segments = stack(data.keys.map((k) => [k, data.value(category, k)]));
          return (
            <g key={category}>
              {segments.map((s) => (
                <rect
                  key={s.key}
                  x={x}
                  width={barW}
                  y={y(s.start + s.value)}
                  height={Math.max(1, y(s.start) - y(s.start + s.value))}
                  fill={colourFor(data.keys, s.key)}
                >
                  <title>
                    {`${data.formatCategory(category)} · ${data.keyLabel(s.key)}: ${data.formatValue(s.value)}`}
                  </title>
                </rect>
              ))}
              <text x={x + barW / 2} y={H - PAD.bottom + 18} text-anchor="middle" class="tick">
                {data.formatCategory(category)}
              </text>
            </g>
          );
        })}
      </svg>
      <Legend keys={data.keys} label={data.keyLabel} />
    </figure>
  );
}

export function Legend({ keys, label }: { keys: string[]; label: (key: string) => string }) {
  return (
    <figcaption class="legend">
      {keys.map((k) => (
        <span key={k}>
          <i style={{ background: colourFor(keys, k) }} /> {label(k)}
        </span>
      ))}
    </figcaption>
  );
}

export interface Bar {
  id: string;
  label: string;
  value: number;
  valueLabel: string;
}

/** Horizontal bars, longest = widest; sized in CSS percentages so they fit any width. */
export function HorizontalBars({ bars, title }: { bars: Bar[]; title: string }) {
  const max = Math.max(0, ...bars.map((b) => b.value)) || 1;
  return (
    <figure class="chart hbars" aria-label={title}>
      {bars.map((b) => (
        <div class="hbar" key={b.id} data-testid="bar">
          <span class="hbar-label">{b.label}</span>
          <span class="hbar-track">
            <span class="hbar-fill" style={{ width: `${(b.value / max) * 100}%`, background: colourFor([], "") }} />
          </span>
          <span class="hbar-value">{b.valueLabel}</span>
        </div>
      ))}
    </figure>
  );
}

export interface StackedBar {
  id: string;
  label: string;
  parts: Array<[string, number]>;
}

/** Horizontal stacked bars, each scaled to the largest total. */
export function StackedBars({ bars, keys, keyLabel, title }: {
  bars: StackedBar[];
  keys: string[];
  keyLabel: (key: string) => string;
  title: string;
}) {
  const totals = bars.map((b) => b.parts.reduce((s, [, v]) => s + v, 0));
  const max = Math.max(0, ...totals) || 1;
  return (
    <figure class="chart hbars" aria-label={title}>
      {bars.map((b, i) => (
        <div class="hbar" key={b.id}>
          <span class="hbar-label">{b.label}</span>
          <span class="hbar-track">
            {stack(b.parts).map((s) => (
              <span
                key={s.key}
                class="hbar-fill"
                title={`${keyLabel(s.key)}: ${s.value}`}
                style={{ width: `${(s.value / max) * 100}%`, background: colourFor(keys, s.key) }}
              />
            ))}
          </span>
          <span class="hbar-value">{totals[i]}</span>
        </div>
      ))}
      <Legend keys={keys} label={keyLabel} />
    </figure>
  );
}
