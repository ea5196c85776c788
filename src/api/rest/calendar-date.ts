/**
 * Whether the date an ISO-8601 text starts with (YYYY-MM-DD) is a day of the calendar.
 * Date.parse rolls an impossible day over into the next month (2026-02-30 is read as
 * March 2nd); a query for such a day is refused instead, as Nova's and Glance's parsers do.
 */
export function startsWithCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year);
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
