//! The timer app: a stopwatch with laps and a countdown timer.
//!
//! Hooks: `#stopwatch-display` (`mm:ss.cc`), `#stopwatch-start` (start / pause),
//! `#stopwatch-lap`, `#stopwatch-reset`, `#lap-list` with `.lap-item`; `#timer-minutes`,
//! `#timer-seconds`, `#timer-display`, `#timer-start` (start / pause), `#timer-reset`,
//! `#timer-done` (shown when the countdown ends).

use super::AppParts;

/// The timer app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Timer & Stopwatch".into(),
        main_html: MAIN.into(),
        css: CSS,
        js: JS,
    }
}

const MAIN: &str = r#"      <section class="card" aria-labelledby="stopwatch-heading">
        <h2 id="stopwatch-heading">Stopwatch</h2>
        <output id="stopwatch-display" class="clock" data-testid="stopwatch-display">00:00.00</output>
        <div class="row controls">
          <button id="stopwatch-start" class="primary" type="button" data-testid="stopwatch-start">Start</button>
          <button id="stopwatch-lap" type="button" data-testid="stopwatch-lap" disabled>Lap</button>
          <button id="stopwatch-reset" type="button" data-testid="stopwatch-reset">Reset</button>
        </div>
        <ol id="lap-list" class="lap-list" data-testid="lap-list"></ol>
      </section>
      <section class="card" aria-labelledby="timer-heading">
        <h2 id="timer-heading">Countdown</h2>
        <div class="row timer-inputs">
          <label>Minutes <input id="timer-minutes" type="number" min="0" max="999" value="5" data-testid="timer-minutes" /></label>
          <label>Seconds <input id="timer-seconds" type="number" min="0" max="59" value="0" data-testid="timer-seconds" /></label>
        </div>
        <output id="timer-display" class="clock" data-testid="timer-display">05:00</output>
        <div class="row controls">
          <button id="timer-start" class="primary" type="button" data-testid="timer-start">Start</button>
          <button id="timer-reset" type="button" data-testid="timer-reset">Reset</button>
        </div>
        <p id="timer-done" class="timer-done" role="status" data-testid="timer-done" hidden>Time's up!</p>
      </section>"#;

const CSS: &str = r#".clock {
  display: block;
  margin: 0.5rem 0 1rem;
  font-size: 3rem;
  font-variant-numeric: tabular-nums;
  font-weight: 600;
}

.controls {
  flex-wrap: wrap;
}

.timer-inputs label {
  display: grid;
  gap: 0.25rem;
  color: var(--muted);
}

.timer-inputs input {
  width: 7rem;
}

.lap-list {
  margin: 1rem 0 0;
  padding-left: 1.5rem;
  font-variant-numeric: tabular-nums;
}

.lap-item {
  padding: 0.2rem 0;
}

.timer-done {
  font-weight: 600;
  color: var(--danger);
}
"#;

const JS: &str = r#"// Stopwatch (with laps) and countdown timer, driven by requestAnimationFrame / setInterval.
const pad = (n) => String(Math.floor(n)).padStart(2, '0');

function formatStopwatch(ms) {
  return `${pad(ms / 60000)}:${pad((ms / 1000) % 60)}.${pad((ms / 10) % 100)}`;
}

function formatCountdown(seconds) {
  return `${pad(seconds / 60)}:${pad(seconds % 60)}`;
}

const stopwatchDisplay = document.querySelector('#stopwatch-display');
const stopwatchStart = document.querySelector('#stopwatch-start');
const stopwatchLap = document.querySelector('#stopwatch-lap');
const stopwatchReset = document.querySelector('#stopwatch-reset');
const lapList = document.querySelector('#lap-list');
let elapsedBefore = 0;
let startedAt = null;
let frame = null;

function stopwatchElapsed() {
  return elapsedBefore + (startedAt === null ? 0 : performance.now() - startedAt);
}

function tick() {
  stopwatchDisplay.textContent = formatStopwatch(stopwatchElapsed());
  frame = startedAt === null ? null : requestAnimationFrame(tick);
}

stopwatchStart.addEventListener('click', () => {
  if (startedAt === null) {
    startedAt = performance.now();
    stopwatchStart.textContent = 'Pause';
    stopwatchLap.disabled = false;
    tick();
  } else {
    elapsedBefore = stopwatchElapsed();
    startedAt = null;
    stopwatchStart.textContent = 'Start';
    stopwatchLap.disabled = true;
    if (frame !== null) cancelAnimationFrame(frame);
    tick();
  }
});

stopwatchLap.addEventListener('click', () => {
  const lap = document.createElement('li');
  lap.className = 'lap-item';
  lap.dataset.searchItem = '';
  lap.textContent = `Lap ${lapList.children.length + 1}: ${formatStopwatch(stopwatchElapsed())}`;
  lapList.append(lap);
});

stopwatchReset.addEventListener('click', () => {
  elapsedBefore = 0;
  startedAt = startedAt === null ? null : performance.now();
  lapList.replaceChildren();
  tick();
});

const timerMinutes = document.querySelector('#timer-minutes');
const timerSeconds = document.querySelector('#timer-seconds');
const timerDisplay = document.querySelector('#timer-display');
const timerStart = document.querySelector('#timer-start');
const timerReset = document.querySelector('#timer-reset');
const timerDone = document.querySelector('#timer-done');
let remaining = 0;
let interval = null;

function configuredSeconds() {
  const minutes = Math.max(0, Number.parseInt(timerMinutes.value, 10) || 0);
  const seconds = Math.min(59, Math.max(0, Number.parseInt(timerSeconds.value, 10) || 0));
  return minutes * 60 + seconds;
}

function stopTimer(label = 'Start') {
  clearInterval(interval);
  interval = null;
  timerStart.textContent = label;
}

function resetTimer() {
  stopTimer();
  remaining = configuredSeconds();
  timerDisplay.textContent = formatCountdown(remaining);
  timerDone.hidden = true;
}

timerStart.addEventListener('click', () => {
  if (interval !== null) {
    stopTimer('Resume');
    return;
  }
  if (remaining <= 0) resetTimer();
  if (remaining <= 0) return;
  timerDone.hidden = true;
  timerStart.textContent = 'Pause';
  interval = setInterval(() => {
    remaining -= 1;
    timerDisplay.textContent = formatCountdown(remaining);
    if (remaining <= 0) {
      stopTimer();
      timerDone.hidden = false;
    }
  }, 1000);
});

timerReset.addEventListener('click', resetTimer);
timerMinutes.addEventListener('change', resetTimer);
timerSeconds.addEventListener('change', resetTimer);
resetTimer();
"#;
