// Small statistics helpers (no dependencies).
export const sum = (xs) => xs.reduce((a, b) => a + b, 0);
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
export const median = (xs) => quantile(xs, 0.5);
export const min = (xs) => Math.min(...xs);
export const max = (xs) => Math.max(...xs);
/** { median, min, max, n } of a list of per-round values. */
export const summary = (xs) => ({ median: median(xs), min: min(xs), max: max(xs), n: xs.length });
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
