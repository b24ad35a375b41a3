// Database page: find a table on the schema map as you type (the form does the same without
// JavaScript, and the URL keeps it); download the map as a PNG drawn from its SVG.
const map = document.getElementById('schema-svg');
const find = document.getElementById('schema-find');
const status = document.getElementById('schema-find-status');
function mark() {
  const term = find.value.trim().toLowerCase();
  let first = null;
  let count = 0;
  for (const box of map.querySelectorAll('g.table-box')) {
    const hit = term !== '' && box.dataset.table.toLowerCase().includes(term);
    box.classList.toggle('found', hit);
    box.classList.toggle('dimmed', term !== '' && !hit);
    if (hit) { count += 1; first ??= box; }
  }
  status.textContent = term === '' ? '' : count === 0 ? `No table matches “${find.value.trim()}”.` : `${count} table${count === 1 ? '' : 's'} match “${find.value.trim()}”.`;
  first?.scrollIntoView({ block: 'nearest', inline: 'center' });
  const url = new URL(location.href);
  if (term === '') url.searchParams.delete('find'); else url.searchParams.set('find', find.value.trim());
  history.replaceState(null, '', url);
}
if (map && find) {
  find.addEventListener('input', mark);
  document.getElementById('schema-find-form').addEventListener('submit', (event) => { event.preventDefault(); mark(); });
}

// The PNG: the downloadable SVG (its colours inline) drawn at twice its size on a canvas.
const png = document.getElementById('download-schema-png');
if (png) {
  png.hidden = false;
  png.addEventListener('click', async () => {
    png.disabled = true;
    try {
      const svg = await (await fetch(png.dataset.svg, { credentials: 'same-origin' })).text();
      const image = new Image();
      image.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth * 2;
      canvas.height = image.naturalHeight * 2;
      const context = canvas.getContext('2d');
      context.scale(2, 2);
      context.drawImage(image, 0, 0);
      const link = document.createElement('a');
      link.href = canvas.toDataURL('image/png');
      link.download = (png.dataset.file || 'schema') + '.png';
      document.body.append(link);
      link.click();
      link.remove();
      if (status) status.textContent = 'PNG downloaded.';
    } catch (error) {
      if (status) status.textContent = `The PNG could not be made: ${error.message}`;
    } finally {
      png.disabled = false;
    }
  });
}
