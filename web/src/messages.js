// Every sentence the portal shows for a refusal or a failed check, in one place: plain words
// and the fix, never an API field name (tests/browser/portal.mjs checks this catalogue and
// every message it sees on screen against the field names of the OpenAPI document).
// {x} placeholders are filled by say().

export const MESSAGES = {
  network: 'The server cannot be reached. Check your connection and try again.',
  signedOut: 'You are not signed in (or your session expired). Please sign in again.',
  forbidden: 'You do not have permission for this. Ask an administrator if you need it.',
  notFound: 'Not found: it may have been removed, or it belongs to someone else.',
  tooMany: 'Too many attempts. Wait a few minutes and try again.',
  conflict: 'That conflicts with what is booked now. Reload the page and try again.',
  changed: 'It changed in the meantime. Reload the page and try again.',
  server: 'The server could not do that right now. Try again in a minute.',
  wrongPassword: 'Wrong username or password.',
  startPast: 'The start is in the past: pick a time after {now}.',
  endBeforeStart: 'The end must be after the start: pick a later end.',
  tooLong: 'A booking can last at most {hours} hours: pick an earlier end.',
  tooFarAhead: 'Bookings must end within {days} days from now: pick an earlier end.',
  tooManyUnits: 'One booking can hold at most {max} {unit}: pick a smaller number.',
  tooFewUnits: 'Pick at least 1 {unit}.',
  notEnoughFree: 'Only {free} of the {want} {unit} you asked for are free for this whole window: book {free}, or pick another time.',
  noneFree: 'All {unit} of this type are booked for part of this window: pick another time, or use the next free window below.',
  windowTaken: 'That window is taken: someone booked it first.',
  nothingFits: 'Nothing of that size is free before the booking horizon: try fewer GPUs or a shorter window.',
  amountTooBig: 'The {what} is more than one machine has: pick a smaller amount.',
  amountTooSmall: 'The {what} must be at least {min}.',
  badTime: 'That is not a valid date and time: pick one with the date and time fields.',
  dateMissing: '{label}: the date is missing. Write it as {format}, e.g. {example}.',
  notADate: '{label}: "{text}" is not a date. Write it as {format}, e.g. {example}.',
  timeMissing: '{label}: the time is missing. Write it as {format}, e.g. {example}.',
  notATime: '{label}: "{text}" is not a time of day. Write it as {format}, e.g. {example}.',
  extendTooFar: 'The session cannot be extended to that time. It can run until {until} at the latest.',
  extendNothing: 'The session cannot be extended: the GPUs are booked right after it, or it is at its longest.',
  reasonNeeded: 'Say why in a few words: the owner reads it.',
  unknownUser: 'There is no active user by that name: check the spelling.',
  badName: 'Give the token a name of 1 to 63 characters.',
  badPassword: 'The password must have at least 8 characters.',
  badUsername: 'Usernames use 2 to 32 lower-case letters, digits, dots, dashes or underscores, starting with a letter.',
  taken: 'That name is already taken: pick another.',
  pickDays: 'Pick a start day on or before the end day.',
  tooManyDays: 'Pick at most 92 days.',
  noEndTime: 'Pick a valid end time.',
  workloadDemand: 'Give every workload a demand (tokens per year) above 0, or every workload a share, the shares adding up to 1.',
  generic: 'The server did not accept the {what}: check it and try again.',
};

// Words for the fields the API names in a refusal.
const WHAT = {
  gpu_type: 'GPU type', gpu_count: 'number of GPUs', starts_at: 'start time', ends_at: 'end time',
  cpu: 'number of CPU cores', memory_gib: 'amount of memory', storage_gib: 'amount of storage',
  purpose: 'purpose', mode: 'mode', user: 'user', reason: 'reason', name: 'name',
  ttl_seconds: 'validity', password: 'password', username: 'username', role: 'role', body: 'request',
};

export function say(key, vars = {}) {
  return (MESSAGES[key] || MESSAGES.generic).replace(/\{(\w+)\}/g, (_, k) => (vars[k] !== undefined ? String(vars[k]) : ''));
}

// True when a server sentence still speaks API (snake_case names or config keys).
export function speaksApi(text) {
  return /\b[a-z]+_[a-z_]+\b|\bsession\.[a-z]|\bcluster\.[a-z]/.test(String(text || ''));
}

// A plain sentence for an API refusal of `field` (400 invalid), with the booking rules at hand.
export function plainInvalid(field, message, rules = {}) {
  const m = String(message || '');
  const unit = 'GPUs or slices';
  switch (field) {
    case 'starts_at':
      return /past/.test(m) ? say('startPast', { now: rules.nowText || 'now' }) : say('badTime');
    case 'ends_at':
      if (/after/.test(m)) return say('endBeforeStart');
      if (/longer|hours/.test(m)) return say('tooLong', { hours: rules.max_hours || '' });
      if (/days/.test(m)) return say('tooFarAhead', { days: rules.max_advance_days || '' });
      if (/past/.test(m)) return say('startPast', { now: rules.nowText || 'now' });
      return say('badTime');
    case 'gpu_count':
      return /at least|between 1 and/.test(m) && rules.max_gpus ? say('tooManyUnits', { max: rules.max_gpus, unit }) : say('tooFewUnits', { unit: 'GPU' });
    case 'cpu': case 'memory_gib': case 'storage_gib': {
      // the server names the minimum (storage must hold the volumes every session mounts)
      const min = /at least (\d+)/.exec(m);
      const unit = field === 'cpu' ? '' : ' GiB';
      return /at least/.test(m) ? say('amountTooSmall', { what: WHAT[field], min: (min ? min[1] : '1') + unit }) : say('amountTooBig', { what: WHAT[field] });
    }
    case 'reason': return say('reasonNeeded');
    case 'user': return say('unknownUser');
    case 'name': return say('badName');
    case 'password': return say('badPassword');
    case 'username': return say('badUsername');
    default:
      return speaksApi(m) || !m ? say('generic', { what: WHAT[field] || 'input' }) : m;
  }
}
