/**
 * Go `time` (Go 1.23 / 1.25, the toolchains of Helm 3.17.3 / 4.1.4): the calendar rule
 * `daysIn` (time.go), `t.UTC().Format(time.RFC3339)` (format.go, format_rfc3339.go), which
 * Helm writes the OCI `created` annotation with, and what `Time.UnmarshalJSON` accepts, which
 * decides whether a Chart.lock loads. JS Date is neither: it rolls 2021-02-30 over to March,
 * and its toISOString always writes milliseconds.
 */

/** Go time's daysIn: the length of a month in the proleptic Gregorian calendar. */
export function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/**
 * Go `t.UTC().Format(time.RFC3339)`: whole seconds (the fraction is cut, towards the past for
 * times before 1970), UTC, `Z`. Years outside 0000–9999 are written as Go writes them.
 */
export function formatRfc3339Utc(t: Date): string {
  const ms = t.getTime();
  if (Number.isNaN(ms)) throw new RangeError('formatRfc3339Utc: invalid date');
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  const year = y < 0 ? '-' + pad(-y, 4) : pad(y, 4);
  return `${year}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}Z`;
}

/** time.Time.UnmarshalJSON's accepted forms (RFC 3339, Go's lenient fallback included). */
export function isGoRfc3339(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,]\d+)?(?:Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || se > 59) return false;
  if (m[7] && (Number(m[8]) > 24 || Number(m[9]) > 60)) return false;
  return true;
}
