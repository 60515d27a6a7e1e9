// A date-and-time entry that reads and writes in the same locale the page formats its dates
// with (Intl with the browser's language, as time.js). <input type="datetime-local"> shows
// its value in the browser's UI language instead, so "12/07" on the form could read as
// July while the page meant 12 July; here both sides use one Intl locale. Two text inputs,
// date and time, with the expected format shown as a hint and checked before submit.
import { h } from './dom.js';
import { say } from './messages.js';

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const SAMPLE = new Date(2026, 11, 24, 14, 30); // day > 12: day and month cannot be confused

const clean = (s) => s.replace(/[\u200e\u200f]/g, '').replace(/[\s\u00a0\u202f]+/g, ' ').trim();
const NAMES = { day: 'DD', month: 'MM', year: 'YYYY' };
const dateParts = dateFmt.formatToParts(SAMPLE);
const ORDER = dateParts.filter((p) => NAMES[p.type]).map((p) => p.type);
export const DATE_PATTERN = clean(dateParts.map((p) => NAMES[p.type] || p.value).join(''));
const hour12 = /^h1[12]$/.test(timeFmt.resolvedOptions().hourCycle || '') || timeFmt.resolvedOptions().hour12 === true;
const period = (d) => clean((timeFmt.formatToParts(d).find((p) => p.type === 'dayPeriod') || { value: '' }).value);
const AM = hour12 ? period(new Date(2026, 0, 1, 9)) || 'AM' : '';
const PM = hour12 ? period(new Date(2026, 0, 1, 15)) || 'PM' : '';
export const TIME_PATTERN = hour12 ? `hh:mm ${AM}/${PM}` : 'HH:MM';

export const showInputDate = (d) => clean(dateFmt.format(new Date(d)));
export const showInputTime = (d) => clean(timeFmt.format(new Date(d)));
const example = () => `${showInputDate(SAMPLE)} ${showInputTime(SAMPLE)}`;

// {y, m, d} from text in the locale's order, or null.
function parseDate(text) {
  const nums = clean(text).split(/\D+/).filter(Boolean).map(Number);
  if (nums.length !== 3) return null;
  const v = {};
  ORDER.forEach((k, i) => { v[k] = nums[i]; });
  if (v.year < 100) v.year += 2000;
  const x = new Date(v.year, v.month - 1, v.day);
  if (x.getFullYear() !== v.year || x.getMonth() !== v.month - 1 || x.getDate() !== v.day) return null;
  return v;
}

// {hh, mm} from "14:30", "2:30 PM", "2 pm", "14.30", or null.
function parseTime(text) {
  const m = /^(\d{1,2})(?:\s?[:.h]\s?(\d{2}))?\s?(.*)$/i.exec(clean(text));
  if (!m) return null;
  let hh = Number(m[1]);
  const mm = m[2] === undefined ? 0 : Number(m[2]);
  const p = m[3].toLowerCase().replace(/\./g, '').replace(/\s/g, '');
  const is = (x, std) => p === std || (x && p === x.toLowerCase().replace(/\./g, '').replace(/\s/g, ''));
  if (p) {
    const pm = is(PM, 'pm');
    if (!pm && !is(AM, 'am')) return null;
    if (hh < 1 || hh > 12) return null;
    hh = (hh % 12) + (pm ? 12 : 0);
  }
  if (hh > 23 || mm > 59) return null;
  return { hh, mm };
}

// One labelled date + time pair. `id` names the date input; the time input is `${id}-time`.
// get() answers {date} (null when both are empty and `optional`) or {error: a sentence}.
export function whenInput(id, label, value, { optional = false, disabled = false } = {}) {
  const hintId = `${id}-hint`;
  const date = h('input', { id, name: id, inputmode: 'numeric', autocomplete: 'off', placeholder: DATE_PATTERN, size: 11, disabled, 'aria-describedby': hintId });
  const time = h('input', { id: `${id}-time`, name: `${id}-time`, autocomplete: 'off', placeholder: TIME_PATTERN, size: 9, disabled, 'aria-describedby': hintId });
  const set = (d) => {
    date.value = d ? showInputDate(d) : '';
    time.value = d ? showInputTime(d) : '';
  };
  if (value) set(value);
  const el = h('div', { class: 'field when', role: 'group', 'aria-labelledby': `${id}-label` },
    h('span', { class: 'label', id: `${id}-label` }, label),
    h('div', { class: 'when-row' },
      h('label', { class: 'when-part' }, h('span', { class: 'sr-only' }, `${label}: date`), date),
      h('label', { class: 'when-part' }, h('span', { class: 'sr-only' }, `${label}: time`), time)),
    h('span', { class: 'muted small when-hint', id: hintId }, `Date as ${DATE_PATTERN}, time as ${TIME_PATTERN}, e.g. ${example()}`));
  function get() {
    const dt = date.value.trim(), tt = time.value.trim();
    if (!dt && !tt && optional) return { date: null };
    const d = { label, format: DATE_PATTERN, example: showInputDate(SAMPLE), text: dt };
    const t = { label, format: TIME_PATTERN, example: showInputTime(SAMPLE), text: tt };
    if (!dt) return { error: say('dateMissing', d), input: date };
    const dv = parseDate(dt);
    if (!dv) return { error: say('notADate', d), input: date };
    if (!tt) return { error: say('timeMissing', t), input: time };
    const tv = parseTime(tt);
    if (!tv) return { error: say('notATime', t), input: time };
    return { date: new Date(dv.year, dv.month - 1, dv.day, tv.hh, tv.mm) };
  }
  // value(): the parsed date, or null when empty or not valid
  return { el, date, time, get, set, value: () => get().date || null, inputs: [date, time] };
}

// A day alone (the admin filters): one text field in the page's date format, with the hint.
// get() answers {date} (local midnight; null when empty) or {error, input}.
export function dayInput(id, label, value) {
  const hintId = `${id}-hint`;
  const input = h('input', { id, name: id, inputmode: 'numeric', autocomplete: 'off', placeholder: DATE_PATTERN, size: 11, 'aria-describedby': hintId });
  if (value) input.value = showInputDate(value);
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), input,
    h('span', { class: 'muted small when-hint', id: hintId }, `As ${DATE_PATTERN}`));
  function get() {
    const t = input.value.trim();
    input.removeAttribute('aria-invalid');
    if (!t) return { date: null };
    const v = parseDate(t);
    if (!v) {
      input.setAttribute('aria-invalid', 'true');
      return { error: say('notADate', { label, format: DATE_PATTERN, example: showInputDate(SAMPLE), text: t }), input };
    }
    return { date: new Date(v.year, v.month - 1, v.day) };
  }
  return { el, input, get };
}

// The days from..to (inclusive) of two day inputs as [start, end) instants, or {error}.
export function dayRange(from, to) {
  const a = from.get(), b = to.get();
  if (a.error || b.error) return { error: a.error || b.error };
  const f = a.date, t = b.date ? new Date(b.date.getFullYear(), b.date.getMonth(), b.date.getDate() + 1) : null;
  return { f, t };
}
