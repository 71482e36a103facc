/** Helpers for human-readable text output (plan tables, logs): no control characters, aligned columns. */

// C0 and C1 controls except tab and newline: an index or a server's error text must not be
// able to move the cursor or recolour a terminal.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripControl(text: string): string {
  return text.replace(CONTROL, '');
}

const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * One line of output, whatever text a source or server put in it: every control character
 * (newlines included) is shown escaped (`\n`, `\x1b`), so nothing can start a forged line or
 * move the cursor.
 */
export function escapeControl(text: string): string {
  return text.replace(ANY_CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One line of a table cell: controls gone, newlines and tabs flattened to spaces. */
export function cell(text: string): string {
  return stripControl(text).replace(/[\t\r\n]+/g, ' ');
}

/** Columns padded to the widest cell; `right` lists the columns aligned right (numbers). */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 && !right.has(i) ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
