/** Text for a terminal: its width, and words wrapped to it. */

/** The width to write for: the terminal's, else $COLUMNS, else 80. */
export function terminalColumns(stream?: { columns?: number; isTTY?: boolean }): number {
  if (stream?.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : 80;
}

/**
 * Wraps `text` at spaces to lines of at most `width` characters: the first line starts with
 * `first`, the rest with `rest`. A word longer than a line is cut.
 */
export function wrapText(text: string, width: number, first = '', rest = first): string {
  const lines: string[] = [];
  let line = first;
  let fresh = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const sep = fresh ? '' : ' ';
    if (!fresh && line.length + sep.length + word.length > width) {
      lines.push(line);
      line = rest;
      fresh = true;
    }
    let w = word;
    while (line.length + w.length > width && width - line.length > 0 && fresh) {
      const room = width - line.length;
      lines.push(line + w.slice(0, room));
      w = w.slice(room);
      line = rest;
    }
    line += (fresh ? '' : ' ') + w;
    fresh = false;
  }
  lines.push(line);
  return lines.join('\n');
}
