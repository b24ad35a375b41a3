// The shell's behaviour, on every page: theme toggle, copy buttons, G+letter chords, the `?`
// sheet, the Mod+K command palette (with times like "yesterday 14:30"), hover prefetch.
// Pages work without it; it only adds speed and keyboard paths.

export const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';

/** POST JSON with the session's CSRF token; resolves to the parsed answer, rejects with it. */
export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(answer.error?.message ?? response.statusText), { detail: answer.error ?? {} });
  return answer;
}

export function toast(text) {
  const node = document.createElement('div');
  node.className = 'toast';
  node.setAttribute('role', 'status');
  node.textContent = text;
  document.body.append(node);
  setTimeout(() => node.remove(), 2600);
}

// Theme: a cookie so the server renders the right one without a flash.
document.querySelector('[data-theme-toggle]')?.addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
  document.documentElement.dataset.theme = next;
  document.cookie = `branch_theme=${next}; Path=/; SameSite=Strict; Max-Age=31536000`;
});

// Copy buttons: data-copy holds the text.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    toast('Copied');
  } catch {
    toast('Copy failed: select the text instead');
  }
});

// Hover prefetch of same-site pages.
const prefetched = new Set();
document.addEventListener('pointerover', (event) => {
  const link = event.target.closest('a[href^="/"]');
  if (!link || prefetched.has(link.href) || link.dataset.noPrefetch !== undefined) return;
  prefetched.add(link.href);
  const hint = document.createElement('link');
  hint.rel = 'prefetch';
  hint.href = link.href;
  document.head.append(hint);
});

const typing = (target) => target.closest('input, textarea, select, [contenteditable="true"]');
const palette = document.getElementById('palette');
const sheet = document.getElementById('shortcuts');
let chord = null;

document.addEventListener('keydown', (event) => {
  if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    openPalette();
    return;
  }
  if ((event.metaKey || event.ctrlKey) && event.key === '/') {
    event.preventDefault();
    sheet?.showModal();
    return;
  }
  if (typing(event.target) || event.metaKey || event.ctrlKey || event.altKey) return;
  if (event.key === '?') {
    event.preventDefault();
    sheet?.showModal();
    return;
  }
  if (chord === 'g') {
    chord = null;
    const link = document.querySelector(`.sidebar a[data-chord="${CSS.escape(event.key.toLowerCase())}"]`);
    if (link) { event.preventDefault(); location.href = link.href; }
    return;
  }
  if (event.key === 'g') { chord = 'g'; setTimeout(() => { chord = null; }, 1200); }
});
document.querySelector('[data-open-palette]')?.addEventListener('click', () => openPalette());
document.querySelector('[data-open-shortcuts]')?.addEventListener('click', () => sheet?.showModal());

// Palette entries: every navigation link, every element a page marks with data-palette
// ("label|url"), and actions computed from the query (times, "diff A vs B").
function entries(query) {
  const seen = new Set();
  const list = [];
  for (const link of document.querySelectorAll('.sidebar a, .switcher .menu a, [data-palette]')) {
    const [label, url] = link.dataset.palette ? link.dataset.palette.split('|') : [link.textContent.replace(/G [a-z]$/, '').trim(), link.getAttribute('href')];
    const group = link.closest('.switcher') ? 'switch' : link.dataset.palette ? 'object' : 'page';
    if (!url || seen.has(label + url)) continue;
    seen.add(label + url);
    list.push({ label, url, group });
  }
  const project = location.pathname.match(/^\/projects\/([^/]+)/)?.[1];
  if (project && query) {
    const at = parseTime(query.replace(/^(branch|query|diff|restore)\s+(from|at|to)?\s*/i, ''));
    if (at) {
      const iso = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
      list.unshift({ label: `Branch from ${at.toLocaleString()} (${iso})`, url: `/projects/${project}/branches?new=1&at=${encodeURIComponent(iso)}`, group: 'action' });
      list.unshift({ label: `Look at the timeline at ${at.toLocaleString()}`, url: `/projects/${project}/timeline?at=${encodeURIComponent(iso)}`, group: 'action' });
    }
    const diff = query.match(/^diff\s+(\S+)\s+(?:vs|and|against)\s+(\S+)/i);
    if (diff) list.unshift({ label: `Diff ${diff[1]} vs ${diff[2]}`, url: `/projects/${project}/diff?from=${encodeURIComponent(diff[1])}&to=${encodeURIComponent(diff[2])}`, group: 'action' });
  }
  if (!query) return list.slice(0, 30);
  const q = query.toLowerCase();
  return list.map((entry) => ({ entry, score: entry.group === 'action' ? 1000 : fuzzy(entry.label.toLowerCase(), q) }))
    .filter((scored) => scored.score > 0).sort((a, b) => b.score - a.score).slice(0, 30).map((scored) => scored.entry);
}

/** Subsequence match; consecutive and word-start hits score higher. */
function fuzzy(text, query) {
  let score = 0; let at = -1; let run = 0;
  for (const ch of query) {
    const next = text.indexOf(ch, at + 1);
    if (next < 0) return 0;
    run = next === at + 1 ? run + 1 : 0;
    score += 1 + run * 2 + (next === 0 || text[next - 1] === ' ' ? 3 : 0);
    at = next;
  }
  return score;
}

/** "yesterday 14:30", "today 9:05", "10 minutes ago", "2 h ago", "2026-12-01 08:00" → Date. */
export function parseTime(text) {
  const input = text.trim().toLowerCase();
  if (!input) return null;
  const ago = input.match(/^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)\s+ago$/);
  if (ago) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[ago[2][0]];
    return new Date(Date.now() - Number(ago[1]) * unit * 1000);
  }
  const relative = input.match(/^(today|yesterday)(?:\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?)?$/);
  if (relative) {
    const date = new Date();
    if (relative[1] === 'yesterday') date.setDate(date.getDate() - 1);
    date.setHours(Number(relative[2] ?? 0), Number(relative[3] ?? 0), 0, 0);
    return date;
  }
  if (/^\d{4}-\d{2}-\d{2}([ t]\d{1,2}:\d{2}(:\d{2})?)?(z|[+-]\d{2}:?\d{2})?$/.test(input)) {
    const date = new Date(input.replace(' ', 'T').toUpperCase());
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

function openPalette() {
  if (!palette) return;
  const input = palette.querySelector('input');
  const results = palette.querySelector('ul');
  let selected = 0;
  let current = [];
  const render = () => {
    current = entries(input.value.trim());
    results.replaceChildren(...current.map((entry, index) => {
      const item = document.createElement('li');
      item.id = `palette-option-${index}`;
      item.setAttribute('role', 'option');
      item.setAttribute('aria-selected', String(index === selected));
      const label = document.createElement('span');
      label.textContent = entry.label;
      const hint = document.createElement('span');
      hint.className = 'hint';
      hint.textContent = entry.group;
      item.append(label, hint);
      item.addEventListener('click', () => { location.href = entry.url; });
      return item;
    }));
    input.setAttribute('aria-activedescendant', current.length ? `palette-option-${selected}` : '');
  };
  input.value = '';
  input.oninput = () => { selected = 0; render(); };
  input.onkeydown = (event) => {
    if (event.key === 'ArrowDown') { selected = Math.min(selected + 1, current.length - 1); render(); event.preventDefault(); }
    if (event.key === 'ArrowUp') { selected = Math.max(selected - 1, 0); render(); event.preventDefault(); }
    if (event.key === 'Enter' && current[selected]) location.href = current[selected].url;
  };
  render();
  palette.showModal();
  input.focus();
}
