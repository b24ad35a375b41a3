// Timeline enhancements: zoom (wheel, +/−/Fit buttons, keyboard + and -), pan (drag), hover
// cards from each mark's <title>, and a click inside a point-in-time band opens the panel at the
// exact instant under the pointer (without JS the band links to the middle of its stretch).
const svg = document.getElementById('timeline');
if (svg) {
  const full = svg.viewBox.baseVal;
  const home = { x: full.x, y: full.y, width: full.width, height: full.height };
  let view = { ...home };
  const minWidth = home.width / 40;
  const apply = () => svg.setAttribute('viewBox', `${view.x} ${view.y} ${view.width} ${view.height}`);
  const clamp = () => {
    view.width = Math.min(home.width, Math.max(minWidth, view.width));
    view.x = Math.min(home.x + home.width - view.width, Math.max(home.x, view.x));
  };
  // The SVG x under a client x.
  const toSVG = (clientX) => {
    const box = svg.getBoundingClientRect();
    return view.x + ((clientX - box.left) / box.width) * view.width;
  };
  const zoom = (factor, centre) => {
    const c = centre ?? view.x + view.width / 2;
    const width = view.width * factor;
    view.x = c - ((c - view.x) / view.width) * width;
    view.width = width;
    clamp();
    apply();
  };

  const controls = document.querySelector('.timeline-zoom');
  if (controls) controls.hidden = false;
  document.querySelectorAll('[data-zoom]').forEach((button) => button.addEventListener('click', () => {
    const kind = button.dataset.zoom;
    if (kind === 'reset') { view = { ...home }; apply(); } else zoom(kind === 'in' ? 0.5 : 2);
  }));
  svg.addEventListener('wheel', (event) => {
    if (!event.ctrlKey && !event.metaKey && Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
      view.x += (event.deltaX / svg.getBoundingClientRect().width) * view.width;
      clamp(); apply(); event.preventDefault(); return;
    }
    event.preventDefault();
    zoom(event.deltaY < 0 ? 0.8 : 1.25, toSVG(event.clientX));
  }, { passive: false });
  svg.addEventListener('keydown', (event) => {
    if (event.key === '+' || event.key === '=') { zoom(0.5); event.preventDefault(); }
    else if (event.key === '-') { zoom(2); event.preventDefault(); }
  });

  // Pan by dragging; a drag is not a click.
  let drag = null;
  let dragged = false;
  svg.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    drag = { clientX: event.clientX, x: view.x };
    dragged = false;
  });
  window.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.clientX;
    if (Math.abs(dx) > 4) { dragged = true; svg.classList.add('panning'); }
    if (!dragged) return;
    view.x = drag.x - (dx / svg.getBoundingClientRect().width) * view.width;
    clamp();
    apply();
  });
  window.addEventListener('pointerup', () => { drag = null; svg.classList.remove('panning'); });

  // A click in a band: the instant under the pointer, to the second.
  const start = Number(svg.dataset.start);
  const end = Number(svg.dataset.end);
  const left = Number(svg.dataset.left);
  const plot = Number(svg.dataset.plot);
  svg.addEventListener('click', (event) => {
    if (dragged) { event.preventDefault(); dragged = false; return; }
    const stretch = event.target.closest('a.stretch');
    if (!stretch || !plot) return;
    const fraction = Math.min(1, Math.max(0, (toSVG(event.clientX) - left) / plot));
    const seconds = Math.floor(start + fraction * (end - start));
    const url = new URL(stretch.getAttribute('href'), location.href);
    url.searchParams.set('at', new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    event.preventDefault();
    location.href = url.pathname + url.search;
  });

  // Hover cards: the mark's <title>, near the pointer (and for keyboard focus, near the mark).
  const card = document.createElement('div');
  card.className = 'timeline-card';
  card.setAttribute('role', 'status');
  card.hidden = true;
  document.body.append(card);
  const titleOf = (target) => target?.closest('a, g.change')?.querySelector('title')?.textContent ?? '';
  const show = (text, x, y) => {
    if (!text) { card.hidden = true; return; }
    card.textContent = text;
    card.hidden = false;
    const width = card.offsetWidth;
    card.style.left = `${Math.min(window.innerWidth - width - 8, x + 14)}px`;
    card.style.top = `${y + 16}px`;
  };
  svg.addEventListener('pointermove', (event) => {
    if (drag && dragged) { card.hidden = true; return; }
    let text = titleOf(event.target);
    if (event.target.closest('a.stretch') && plot) {
      const fraction = Math.min(1, Math.max(0, (toSVG(event.clientX) - left) / plot));
      const lane = event.target.closest('a.stretch').dataset.lane;
      text = `${lane} at ${new Date((start + fraction * (end - start)) * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC')}: click to query, branch, diff or restore here`;
    }
    show(text, event.clientX, event.clientY);
  });
  svg.addEventListener('pointerleave', () => { card.hidden = true; });
  svg.addEventListener('focusin', (event) => {
    const box = event.target.getBoundingClientRect();
    show(titleOf(event.target), box.left, box.bottom);
  });
  svg.addEventListener('focusout', () => { card.hidden = true; });
}
