// Observability: live samples from the page's event stream are appended to the server-rendered
// SVG charts (the same scale as ChartGeometry: x over [start, now], y over [0, data-max]); the
// log can follow new lines. Without JavaScript the page is a complete snapshot.
const charts = document.getElementById('charts');
const state = document.querySelector('[data-live-state]');

function redraw(svg) {
  const start = Number(svg.dataset.start), end = Number(svg.dataset.end);
  const width = Number(svg.dataset.width), height = Number(svg.dataset.height), max = Number(svg.dataset.max);
  for (const path of svg.querySelectorAll('path[data-field]')) {
    const points = path._points;
    let d = '';
    let drawing = false;
    for (const [t, v] of points) {
      if (t < start) continue;
      const x = ((t - start) / Math.max(end - start, 1)) * width;
      const y = height - (Math.min(Math.max(v, 0), max) / max) * height;
      d += `${drawing ? ' L' : (d ? ' M' : 'M')}${x.toFixed(1)} ${y.toFixed(1)}`;
      drawing = true;
    }
    path.setAttribute('d', d);
  }
}

function append(sample) {
  const t = Date.parse(sample.at);
  for (const svg of charts.querySelectorAll('svg.chart')) {
    const span = Number(svg.dataset.end) - Number(svg.dataset.start);
    if (t > Number(svg.dataset.end)) {
      svg.dataset.end = String(t);
      svg.dataset.start = String(t - span);
    }
    let top = Number(svg.dataset.max);
    for (const path of svg.querySelectorAll('path[data-field]')) {
      const value = sample[path.dataset.field];
      if (typeof value === 'number') {
        path._points.push([t, value]);
        top = Math.max(top, value);
      }
    }
    if (top > Number(svg.dataset.max)) svg.dataset.max = String(top * 1.25);
    redraw(svg);
  }
  const restarts = document.querySelector('[data-live="restarts"]');
  if (restarts && typeof sample.restarts === 'number') restarts.textContent = String(sample.restarts);
}

if (charts && window.EventSource) {
  for (const path of charts.querySelectorAll('path[data-field]')) {
    try { path._points = JSON.parse(path.dataset.points || '[]'); } catch { path._points = []; }
  }
  const source = new EventSource(charts.dataset.stream);
  source.addEventListener('open', () => { if (state) state.textContent = 'live'; });
  source.addEventListener('error', () => { if (state) state.textContent = 'reconnecting…'; });
  source.addEventListener('sample', (event) => append(JSON.parse(event.data)));
}

const follow = document.getElementById('log-follow');
const log = document.getElementById('log-lines');
if (follow && log && window.EventSource) {
  follow.hidden = false;
  let source = null;
  follow.addEventListener('click', () => {
    if (source) {
      source.close();
      source = null;
      follow.setAttribute('aria-pressed', 'false');
      follow.textContent = 'Follow';
      return;
    }
    source = new EventSource(follow.dataset.stream);
    follow.setAttribute('aria-pressed', 'true');
    follow.textContent = 'Stop following';
    source.addEventListener('line', (event) => {
      const line = document.createElement('span');
      line.className = 'log-line';
      line.textContent = event.data;
      log.append(line, '\n');
      while (log.childElementCount > 1000) log.firstElementChild.nextSibling?.remove(), log.firstElementChild.remove();
      log.scrollTop = log.scrollHeight;
    });
  });
}
