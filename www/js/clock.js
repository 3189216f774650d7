// The clock explain() runs at: follows the current time ('live') or is fixed
// from the datetime-local input and the shift buttons.
import { $ } from './dom.js';
import { scheduleLive } from './evaluate.js';
import { state } from './state.js';
import { toLocalInput, utcText } from './time.js';

export function currentNow() {
  return state.clockMode === 'live' ? Math.floor(Date.now() / 1000) : state.clock;
}

export function renderClock({ force = false } = {}) {
  const now = currentNow();
  const input = $('clock');
  if (force || document.activeElement !== input) input.value = toLocalInput(now);
  const mode = state.clockMode === 'live' ? 'follows the current time' : 'fixed';
  $('clock-info').textContent = `${utcText(now)} · ${now} · ${mode}`;
  $('clock-now').disabled = state.clockMode === 'live';
}

function setClock(secs) {
  state.clockMode = 'fixed';
  state.clock = Math.floor(secs);
  renderClock({ force: true });
  scheduleLive();
}

/** The clock input, the shift buttons and "Now"; a live clock is re-rendered every second. */
export function wireClock() {
  $('clock').addEventListener('change', () => {
    const value = $('clock').value;
    if (!value) return;
    const ms = new Date(value).getTime();
    if (Number.isFinite(ms)) setClock(ms / 1000);
  });
  for (const button of document.querySelectorAll('[data-shift]')) {
    button.addEventListener('click', () => setClock(currentNow() + Number(button.dataset.shift)));
  }
  $('clock-now').addEventListener('click', () => {
    state.clockMode = 'live';
    renderClock({ force: true });
    scheduleLive();
  });
  setInterval(() => {
    if (state.clockMode === 'live') renderClock();
  }, 1000);
}
