// Axis arithmetic for the hand-drawn charts: a round top value and evenly spaced ticks, so axes
// read 0, 50, 100, 150 rather than 0, 37.4, 74.8.

/** The smallest "nice" number (1, 2, 2.5 or 5 × 10^n) at or above `value`; 1 for 0 or less. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const exponent = Math.floor(Math.log10(value));
  const base = 10 ** exponent;
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * base >= value - 1e-9 * base) return step * base;
  }
  return 10 * base;
}

/** `count + 1` ticks from 0 to a nice maximum at or above `max`. */
export function ticks(max: number, count = 4): number[] {
  const top = niceCeil(max / count) * count;
  return Array.from({ length: count + 1 }, (_, i) => (top / count) * i);
}

export interface Stack {
  key: string;
  value: number;
  /** Where the segment starts, the sum of the ones below it. */
  start: number;
}

/** The segments of one stacked bar, bottom first, skipping zeros. */
export function stack(values: Array<[string, number]>): Stack[] {
  let start = 0;
  const out: Stack[] = [];
  for (const [key, value] of values) {
    if (value <= 0) continue;
    out.push({ key, value, start });
    start += value;
  }
  return out;
}

/** A colour per series, stable for a key across renders and charts. */
export const PALETTE = ["#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584"];

export function colourFor(keys: string[], key: string): string {
  const index = keys.indexOf(key);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length]!;
}
