// One evaluation: analyse the assertion, build the request, run the endpoint's
// explain() and render every view; scheduleLive() re-runs it after edits.
import { analyseAssertion } from './assertion.js';
import { renderDecoded } from './assertion-view.js';
import { currentNow, renderClock } from './clock.js';
import { configText, endpointFor, parseConfig, renderConfigSummary } from './config.js';
import { $, el } from './dom.js';
import { claimsSummary, renderIdle, renderToken, setChecks, setVerdict } from './report.js';
import { buildRequest } from './request.js';
import { renderRequest } from './request-view.js';
import { state } from './state.js';
import { utcText } from './time.js';

const LIVE_DELAY_MS = 300;

export function scheduleLive() {
  if (!$('live').checked) return;
  clearTimeout(state.timer);
  state.timer = setTimeout(evaluate, LIVE_DELAY_MS);
}

/** Build the endpoint, explain the request and render everything. */
export async function evaluate() {
  clearTimeout(state.timer);
  if (!state.ready) return;
  const seq = ++state.evalSeq;
  const now = currentNow();
  state.lastNow = now;
  renderClock();
  const report = $('report');
  report.setAttribute('aria-busy', 'true');

  const info = analyseAssertion($('assertion').value);
  const detected = $('detected');
  detected.replaceChildren(el('span', { class: 'sr-only', text: 'Detected: ' }), info.label);
  detected.className = `badge${info.kind === 'saml' || info.kind === 'jwt' ? ' info' : info.kind === 'unknown' ? ' warn' : ''}`;

  const parsed = parseConfig();
  const configBox = $('config');
  const configError = $('config-error');
  const request = buildRequest(info);
  renderDecoded(info, now);
  renderRequest(info, request, parsed.value);

  const done = () => {
    report.setAttribute('aria-busy', 'false');
    report.dataset.evaluated = String(seq);
  };

  if (parsed.error) {
    configBox.setAttribute('aria-invalid', 'true');
    configError.hidden = false;
    configError.textContent = `Configuration ${parsed.error}`;
    renderConfigSummary(null);
    setVerdict('config', {
      mark: '✗', title: 'The configuration is not valid JSON',
      body: [el('p', { class: 'desc', text: parsed.error })],
    });
    setChecks([]);
    $('checks-empty').textContent = 'Fix the configuration to see the checks.';
    renderToken(null);
    done();
    return;
  }

  let endpoint;
  try {
    endpoint = endpointFor(parsed.value, configText());
  } catch (err) {
    const path = err?.path;
    configBox.setAttribute('aria-invalid', 'true');
    configError.hidden = false;
    configError.replaceChildren('Configuration error', ...(path ? [' at ', el('code', { text: path })] : []), `: ${stripPath(err?.message ?? String(err), path)}`);
    renderConfigSummary(parsed.value);
    setVerdict('config', {
      mark: '✗', title: 'The configuration is refused',
      sub: 'new TokenEndpoint(config) threw a ConfigError; the endpoint would not start.',
      body: [el('p', { class: 'desc' }, ...(path ? [el('code', { class: 'err', text: path }), ': '] : []), stripPath(err?.message ?? String(err), path))],
    });
    setChecks([]);
    $('checks-empty').textContent = 'Fix the configuration to see the checks.';
    renderToken(null);
    done();
    return;
  }
  configBox.removeAttribute('aria-invalid');
  configError.hidden = true;
  renderConfigSummary(parsed.value);

  if (info.kind === 'empty') {
    renderIdle();
    done();
    return;
  }

  let result;
  try {
    result = await endpoint.explain({ body: request.body, headers: request.headers, method: 'POST' }, { now });
  } catch (err) {
    if (seq !== state.evalSeq) return;
    setVerdict('fail', { mark: '✗', title: 'explain() failed', body: [el('p', { class: 'desc', text: String(err?.message ?? err) })] });
    setChecks([]);
    done();
    return;
  }
  if (seq !== state.evalSeq) return;

  const checks = result.checks ?? [];
  const failed = checks.find((c) => c.outcome === 'fail');
  const passed = checks.filter((c) => c.outcome === 'pass').length;
  const skipped = checks.filter((c) => c.outcome === 'skipped').length;
  const counts = `${passed} passed${skipped ? ` · ${skipped} skipped` : ''}${failed ? ' · 1 failed' : ''}`;
  const at = `at ${utcText(now)}`;
  if (result.would_issue) {
    setVerdict('pass', {
      mark: '✓', title: 'Would issue an access token',
      sub: `${counts} · ${at}`,
      body: [claimsSummary(result.token_claims ?? {}, now)],
    });
  } else {
    const e = result.error ?? { error: 'refused', error_description: '', status: 400 };
    setVerdict('fail', {
      mark: '✗', title: `Would refuse: ${e.error}`,
      sub: `HTTP ${e.status}${failed ? ` · failed check: ${failed.check}` : ''}${e.reason ? ` (${e.reason})` : ''} · ${counts} · ${at}`,
      body: [el('p', { class: 'desc' }, el('code', { class: 'err', text: e.error }), ' — ', e.error_description || '(no description)')],
    });
  }
  setChecks(checks, { stopped: Boolean(failed) && checks.at(-1) === failed });
  renderToken(result, now);
  done();
}

const stripPath = (message, path) => (path && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);
