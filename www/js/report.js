// The report of explain(): the verdict, the checklist, the "Token claims" tab
// and the idle state before there is an assertion.
import { $, el } from './dom.js';
import { codeBlock, prettyJson } from './highlight.js';
import { quickStart } from './idp.js';
import { ACCESS_TOKEN_CLAIMS } from './protocol.js';
import { relativeText, utcText } from './time.js';

const MARK = { pass: '✓', fail: '✗', skipped: '–' };
const OUTCOME_TEXT = { pass: 'passed', fail: 'failed', skipped: 'skipped' };

export function setVerdict(kind, { mark, title, sub, body = [] }) {
  const verdict = $('verdict');
  verdict.dataset.kind = kind;
  verdict.replaceChildren(
    el('span', { class: 'big-mark', 'aria-hidden': 'true', text: mark }),
    el('h3', { text: title }),
    ...(sub ? [el('p', { class: 'sub', text: sub })] : []),
    el('div', {}, ...body),
  );
}

export function setChecks(checks, { stopped = false } = {}) {
  const list = $('checks');
  list.replaceChildren();
  for (const c of checks) {
    const outcome = MARK[c.outcome] ? c.outcome : 'skipped';
    list.append(el('li', { class: `check ${outcome}`, dataset: { outcome, check: c.check, id: c.id ?? '', reason: c.reason ?? '' } },
      el('span', { class: 'mark', 'aria-hidden': 'true', text: MARK[outcome] }),
      el('span', { class: 'what' },
        el('span', { class: 'name', title: c.id ?? '' }, el('span', { class: 'sr-only', text: `${OUTCOME_TEXT[outcome]}: ` }), c.check),
        el('span', { class: 'spec' }, el('span', { class: 'sr-only', text: 'spec: ' }), c.spec),
        ...(c.reason ? [el('code', { class: 'reason' }, el('span', { class: 'sr-only', text: 'reason: ' }), c.reason)] : [])),
      el('span', { class: 'detail' }, el('span', { class: 'sr-only', text: '— ' }), c.detail),
    ));
  }
  $('checks-empty').hidden = checks.length > 0;
  $('checks-stopped').hidden = !stopped;
  const count = $('checks-count');
  const failed = checks.filter((c) => c.outcome === 'fail').length;
  count.textContent = checks.length ? String(checks.length) : '';
  count.className = `count${failed ? ' bad' : checks.length ? ' good' : ''}`;
  count.setAttribute('aria-label', checks.length ? `${checks.length} checks${failed ? `, ${failed} failed` : ''}` : '');
}

export function renderToken(report, now) {
  const box = $('token');
  box.replaceChildren();
  if (!report?.token_claims) {
    box.append(el('p', { class: 'empty', text: report ? 'No access token would be issued.' : 'No report yet.' }));
    return;
  }
  box.append(el('p', { class: 'note', text: 'The RFC 9068 access token\'s claims, not signed: explain() never signs and never consumes the assertion.' }));
  box.append(codeBlock(prettyJson(report.token_claims, now, { annotateTimes: true }), 'Access token claims'));
}

export function claimsSummary(claims, now) {
  const pick = ['sub', 'client_id', 'scope', 'aud', 'exp'];
  const grid = el('dl', { class: 'claims-grid', 'aria-label': 'Access token claims' });
  for (const key of pick) {
    if (!(key in claims)) continue;
    let value = claims[key];
    if (key === 'exp' && typeof value === 'number') value = `${utcText(value).slice(11)} (${relativeText(value, now)})`;
    else if (Array.isArray(value)) value = value.join(', ');
    else if (typeof value !== 'string') value = JSON.stringify(value);
    grid.append(el('dt', { text: key }), el('dd', { text: value }));
  }
  const extra = Object.keys(claims).filter((k) => !ACCESS_TOKEN_CLAIMS.has(k));
  for (const key of extra.slice(0, 3)) {
    const v = claims[key];
    const text = typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : JSON.stringify(v);
    grid.append(el('dt', { text: key }), el('dd', { text }));
  }
  return grid;
}

export function renderIdle() {
  setVerdict('idle', {
    mark: '?',
    title: 'Paste an assertion, or make one',
    sub: 'Paste a SAML assertion or a JWT on the left and the endpoint explains, check by check, what it would do.',
    body: [el('ol', { class: 'steps' },
      el('li', {}, 'No assertion at hand? In ', el('strong', { text: 'Test identity provider' }), ': Generate key → Mint → Trust this IdP.'),
      el('li', {}, 'Or in one go: ', el('button', { type: 'button', class: 'btn link', id: 'quick-start', text: 'mint and trust a SAML test assertion', onclick: quickStart })),
    )],
  });
  setChecks([]);
  $('checks-empty').textContent = 'No report yet.';
  renderToken(null);
}
