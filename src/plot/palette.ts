/** Class colours of the figures: matplotlib's tab10, evenly spaced hues beyond ten classes. */

/** matplotlib's tab10 palette, in class order. */
export const TAB10 = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
] as const;

/** Colour of points whose class id is outside [0, numClasses). */
export const UNKNOWN_CLASS_COLOR = '#b0b0b0';

/** Colour of class `c`: tab10 for up to ten classes, evenly spaced hues beyond. */
export function classColor(c: number, numClasses: number): string {
  if (numClasses <= TAB10.length) return TAB10[c % TAB10.length]!;
  const hue = Math.round((360 * c) / numClasses);
  return `hsl(${hue}, 65%, ${c % 2 === 0 ? 45 : 60}%)`;
}
