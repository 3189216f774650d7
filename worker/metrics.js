// Workers Analytics Engine metrics: one data point per token-endpoint
// request, from the endpoint's log entry. No Workers APIs here (the dataset is
// passed in), so tests/js/logs.test.mjs drives it directly in Node.

/**
 * One Analytics Engine data point per request (nothing without the binding;
 * a failing write never changes the answer). blob1..7: route, outcome, RFC
 * error, reason code, issuer, client_id, grant_type; double1..4: count (1),
 * latency_ms, signature_checks, status; index: the client (or "-").
 */
export function writeMetric(dataset, entry) {
  if (dataset === undefined || typeof dataset?.writeDataPoint !== 'function') return;
  try {
    dataset.writeDataPoint({
      blobs: [entry.route, entry.outcome, entry.error ?? '', entry.reason ?? '', entry.issuer ?? '', entry.client_id ?? '', entry.grant_type ?? ''],
      doubles: [1, entry.latency_ms, entry.signature_checks, entry.status],
      // An index is at most 96 bytes: a longer client id is cut.
      indexes: [utf8Prefix(entry.client_id ?? '-', 96)],
    });
  } catch (err) {
    console.warn(JSON.stringify({ event: 'metrics', error: err instanceof Error ? err.message : String(err) }));
  }
}

/** The longest prefix of `text` that is at most `max` UTF-8 bytes. */
export function utf8Prefix(text, max) {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
