// Times as text: NumericDate seconds → datetime-local values, UTC and
// relative ("in 5 min") wording.

const pad = (n) => String(n).padStart(2, '0');

/** Seconds → "YYYY-MM-DDTHH:MM:SS" in local time (datetime-local value). */
export function toLocalInput(secs) {
  const d = new Date(secs * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Seconds → "2027-01-15 08:00:00 UTC". */
export function utcText(secs) {
  if (!Number.isFinite(secs)) return String(secs);
  const iso = new Date(secs * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** A duration in words: "5 min", "2 h 3 min", "3 days". */
export function durationText(secs) {
  const s = Math.abs(Math.round(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400 * 2) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ''}`;
  }
  return `${Math.floor(s / 86400)} days`;
}
export const relativeText = (secs, now) => (secs === now ? 'now' : secs > now ? `in ${durationText(secs - now)}` : `${durationText(now - secs)} ago`);
