// Times: the API speaks UTC RFC 3339; the page shows the browser's local time zone.
export const HOUR = 3600e3;
export const DAY = 24 * HOUR;

export function iso(d) {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function startOfDay(d) {
  const x = new Date(d);
  x.setHours(0, 0, 0, 0);
  return x;
}

export function startOfWeek(d) {
  const x = startOfDay(d);
  const dow = (x.getDay() + 6) % 7; // Monday first
  x.setDate(x.getDate() - dow);
  return x;
}

export function addDays(d, n) {
  const x = new Date(d);
  x.setDate(x.getDate() + n);
  return x;
}

const fmtDateTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const fmtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fmtDay = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const fmtLong = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

export const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
export const showDateTime = (d) => fmtDateTime.format(new Date(d));
export const showTime = (d) => fmtTime.format(new Date(d));
export const showDay = (d) => fmtDay.format(new Date(d));
export const showLongDay = (d) => fmtLong.format(new Date(d));

export function sameDay(a, b) {
  return startOfDay(a).getTime() === startOfDay(b).getTime();
}

// "Mon 1 Dec, 09:00 – 11:00" or across days "Mon 1 Dec, 22:00 – Tue 2 Dec, 02:00".
export function showRange(a, b) {
  return sameDay(a, new Date(new Date(b).getTime() - 1))
    ? `${showDateTime(a)} – ${showTime(b)}`
    : `${showDateTime(a)} – ${showDateTime(b)}`;
}

// "2 h 05 min", "3 d 4 h", "45 s".
export function showDuration(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m) return `${m} min ${String(s).padStart(2, '0')} s`;
  return `${s} s`;
}

export function roundUp(d, stepMs) {
  return new Date(Math.ceil(new Date(d).getTime() / stepMs) * stepMs);
}
