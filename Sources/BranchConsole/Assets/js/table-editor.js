// Table editor: cells edit in place into a pending-edit queue (insert, update, delete) with
// Undo (Mod+Z); "Review N changes" (Mod+S) shows the server-generated SQL, and Save posts the
// queue, run in one transaction; a failing edit is marked inline and nothing is kept.
// Without this script every row still has its Edit form.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';
const isMac = navigator.platform.toUpperCase().includes('MAC');
const mod = (event) => (isMac ? event.metaKey : event.ctrlKey);

// CSV import: a chosen file is read into the text box.
document.getElementById('import-file')?.addEventListener('change', async (event) => {
  const file = event.target.files?.[0];
  if (file) document.getElementById('import-csv').value = await file.text();
});

const grid = document.querySelector('#table-grid[data-editable]');
if (grid) setUp(grid);

function setUp(grid) {
  const columns = [...grid.querySelectorAll('thead th[data-col]')].map((th) => ({
    name: th.dataset.col, type: th.dataset.type, generated: th.dataset.generated === 'true',
    options: th.dataset.options ? JSON.parse(th.dataset.options) : null,
  }));
  const edits = [];   // what Save sends, in order
  const undo = [];    // functions that take the last action back
  const bar = document.getElementById('edit-bar');
  const count = document.getElementById('pending-count');
  const dialog = document.getElementById('review-dialog');
  const sqlBox = document.getElementById('review-sql');
  const errorBox = document.getElementById('review-error');
  bar.hidden = false;

  const refresh = () => {
    const n = edits.length;
    count.textContent = n === 0 ? 'No pending changes' : `${n} pending change${n === 1 ? '' : 's'}`;
    document.getElementById('review-changes').textContent = `Review ${n} change${n === 1 ? '' : 's'}`;
  };
  const keyOf = (row) => JSON.parse(row.dataset.key || '{}');
  const push = (edit, revert) => {
    edits.push(edit);
    undo.push(() => { edits.splice(edits.indexOf(edit), 1); revert(); });
    refresh();
  };

  // A delete button in each row's action cell.
  for (const row of grid.tBodies[0].rows) addDeleteButton(row);
  function addDeleteButton(row) {
    const cell = row.querySelector('td.row-actions') ?? row.insertCell();
    cell.classList.add('row-actions');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'ghost small';
    button.textContent = 'Delete';
    button.setAttribute('aria-label', 'Delete this row');
    button.addEventListener('click', () => markDeleted(row));
    cell.append(' ', button);
  }

  function markDeleted(row) {
    if (row.classList.contains('removed')) return;
    if (row.dataset.pendingInsert) {
      const edit = edits.find((e) => e.row === row);
      const index = edits.indexOf(edit);
      edits.splice(index, 1);
      row.hidden = true;
      undo.push(() => { edits.splice(index, 0, edit); row.hidden = false; refresh(); });
      refresh();
      return;
    }
    row.classList.add('removed');
    push({ op: 'delete', key: keyOf(row), row }, () => row.classList.remove('removed'));
  }

  // Editing a cell: double-click, or Enter when it has focus.
  grid.addEventListener('dblclick', (event) => startEdit(event.target.closest('td[data-col]')));
  grid.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.matches('td[data-col]')) { event.preventDefault(); startEdit(event.target); }
    // h on a cell: that cell's history across snapshots.
    if (event.key === 'h' && !mod(event) && event.target.matches('td[data-col]')) {
      const history = event.target.parentElement.querySelector('a[href*="/tables/history"]');
      if (history) location.href = `${history.getAttribute('href')}&column=${encodeURIComponent(event.target.dataset.col)}`;
    }
  });
  for (const cell of grid.querySelectorAll('tbody td[data-col]')) cell.tabIndex = 0;

  function startEdit(cell) {
    if (!cell || cell.querySelector('input, select, textarea')) return;
    const column = columns.find((c) => c.name === cell.dataset.col);
    const row = cell.parentElement;
    if (!column || column.generated || row.classList.contains('removed')) return;
    const wasNull = cell.dataset.null === 'true';
    // A foreign key's cell also holds its jump link: its value is kept in data-value.
    const before = wasNull ? null : (cell.dataset.value ?? cell.textContent);
    const editor = cellEditor(column, before);
    const input = editor.element;
    input.setAttribute('aria-label', `${column.name} (${column.type})`);
    const nullButton = document.createElement('button');
    nullButton.type = 'button';
    nullButton.className = 'ghost small';
    nullButton.textContent = 'NULL';
    nullButton.setAttribute('aria-label', `Set ${column.name} to NULL`);
    cell.textContent = '';
    cell.append(input, nullButton);
    input.focus();
    let done = false;
    const finish = (value, keep) => {
      if (done) return;
      if (keep && value !== null) {
        // The typed editor's reading: refused values stay in the editor with the reason.
        const read = editor.read();
        if (read.error) {
          input.setCustomValidity(read.error);
          input.setAttribute('aria-invalid', 'true');
          input.reportValidity();
          return;
        }
        value = read.value;
      }
      done = true;
      show(cell, keep ? value : before);
      if (keep && value !== before) setValue(row, cell, column.name, value, before);
      cell.focus();
    };
    input.addEventListener('input', () => { input.setCustomValidity(''); input.removeAttribute('aria-invalid'); });
    input.addEventListener('keydown', (event) => {
      // Enter saves; in a JSON text area Shift+Enter is a new line.
      if (event.key === 'Enter' && !(event.shiftKey && input.tagName === 'TEXTAREA')) { event.preventDefault(); finish(input.value, true); }
      if (event.key === 'Escape') { event.preventDefault(); finish(null, false); }
    });
    // Leaving the editor keeps a valid value, and forgets an invalid one.
    input.addEventListener('blur', () => setTimeout(() => {
      if (done || document.activeElement === nullButton) return;
      if (editor.read().error) finish(null, false); else finish(input.value, true);
    }, 0));
    nullButton.addEventListener('click', () => finish(null, true));
  }

  // An editor that fits the column's type: a list for booleans and enums, a date or date-time
  // picker, a text area for JSON; numbers, UUIDs and JSON are checked before they are queued.
  function cellEditor(column, value) {
    const type = column.type.replace(/\(.*?\)/g, '').replace('[]', ' array').replace(/\s+/g, ' ').trim();
    const list = column.options ?? (type === 'boolean' ? ['true', 'false'] : null);
    let element;
    if (list) {
      element = document.createElement('select');
      for (const option of list) element.append(new Option(option, option, false, option === value || (type === 'boolean' && value?.[0] === option[0])));
      if (value === null) element.selectedIndex = -1;
      return { element, read: () => (element.selectedIndex < 0 ? { error: 'Choose a value, or NULL.' } : { value: element.value }) };
    }
    if (type === 'json' || type === 'jsonb') {
      element = document.createElement('textarea');
      element.rows = 4;
      element.value = value ?? '';
      return { element, read: () => { try { JSON.parse(element.value); return { value: element.value }; } catch (error) { return { error: `Not valid JSON: ${error.message}` }; } } };
    }
    element = document.createElement('input');
    element.value = value ?? '';
    // Dates and local date-times in Postgres's ISO text; whole or millisecond seconds only (finer stays text).
    // A picker may write its value back its own way (10:00:00 as 10:00): untouched, it keeps the cell's text.
    const picked = (initial, text) => (element.value === initial ? value : text);
    if (type === 'date' && (value === null || /^\d{4}-\d{2}-\d{2}$/.test(value))) {
      element.type = 'date';
      const initial = element.value;
      return { element, read: () => (element.value ? { value: picked(initial, element.value) } : { error: 'Choose a date, or NULL.' }) };
    }
    if (type === 'timestamp without time zone' && (value === null || /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/.test(value))) {
      element.type = 'datetime-local';
      element.step = '0.001';
      element.value = (value ?? '').replace(' ', 'T');
      const initial = element.value;
      return { element, read: () => (element.value ? { value: picked(initial, element.value.replace('T', ' ')) } : { error: 'Choose a date and time, or NULL.' }) };
    }
    const checks = {
      smallint: [/^[-+]?\d+$/, 'a whole number'], integer: [/^[-+]?\d+$/, 'a whole number'], bigint: [/^[-+]?\d+$/, 'a whole number'],
      numeric: [/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^NaN$/i, 'a number'], real: [/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(NaN|-?Infinity)$/i, 'a number'],
      'double precision': [/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(NaN|-?Infinity)$/i, 'a number'],
      uuid: [/^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i, 'a UUID'],
    };
    const check = checks[type];
    if (check && type !== 'uuid') element.inputMode = type.endsWith('int') || type === 'integer' ? 'numeric' : 'decimal';
    return {
      element,
      read: () => (check && !check[0].test(element.value.trim()) ? { error: `${column.name} takes ${check[1]} (${column.type}).` } : { value: element.value }),
    };
  }

  function show(cell, value) {
    delete cell.dataset.value;
    cell.textContent = value ?? 'NULL';
    cell.classList.toggle('null', value === null);
    cell.dataset.null = value === null ? 'true' : 'false';
  }

  function setValue(row, cell, name, value, before) {
    cell.classList.add('pending');
    if (row.dataset.pendingInsert) {
      const edit = edits.find((e) => e.row === row);
      const had = Object.hasOwn(edit.values, name);
      const old = edit.values[name];
      edit.values[name] = value;
      undo.push(() => { if (had) edit.values[name] = old; else delete edit.values[name]; show(cell, before); refresh(); });
      refresh();
      return;
    }
    push({ op: 'update', key: keyOf(row), values: { [name]: value }, row, cell }, () => { show(cell, before); cell.classList.remove('pending'); });
  }

  document.getElementById('add-row').addEventListener('click', () => {
    const row = grid.tBodies[0].insertRow(0);
    row.className = 'added';
    row.dataset.pendingInsert = 'true';
    for (const column of columns) {
      const cell = row.insertCell();
      cell.dataset.col = column.name;
      cell.className = 'value null';
      cell.dataset.null = 'true';
      cell.textContent = column.generated ? 'generated' : 'default';
      cell.tabIndex = 0;
    }
    addDeleteButton(row);
    push({ op: 'insert', values: {}, row }, () => row.remove());
    startEdit(row.querySelector('td[data-col]'));
  });

  const undoLast = () => { const revert = undo.pop(); if (revert) { revert(); refresh(); } };
  document.getElementById('undo-edit').addEventListener('click', undoLast);

  const payload = (preview) => ({
    table: grid.dataset.table, preview,
    edits: edits.map(({ op, key, values }) => ({ op, key, values })),
  });
  const post = async (body) => {
    const response = await fetch(grid.dataset.save, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body),
    });
    return response.json().catch(() => ({ ok: false, error: { message: response.statusText } }));
  };
  const markError = (answer) => {
    grid.querySelectorAll('.edit-error').forEach((node) => node.classList.remove('edit-error'));
    errorBox.hidden = false;
    const index = answer.error?.index;
    errorBox.textContent = (index != null ? `Change ${index + 1}: ` : '') + (answer.error?.message ?? 'Saving failed') + ' Nothing was saved.';
    const edit = index != null ? edits[index] : null;
    const target = edit?.cell ?? edit?.row;
    if (target) { target.classList.add('edit-error'); target.title = answer.error.message; }
  };

  async function review() {
    if (edits.length === 0) return;
    errorBox.hidden = true;
    const answer = await post(payload(true));
    sqlBox.textContent = (answer.statements ?? []).map((s) => `${s};`).join('\n');
    if (!answer.ok) markError(answer);
    dialog.showModal();
  }
  document.getElementById('review-changes').addEventListener('click', review);
  document.getElementById('cancel-review').addEventListener('click', () => dialog.close());
  document.getElementById('save-changes').addEventListener('click', async () => {
    const answer = await post(payload(false));
    if (answer.ok) { window.location.reload(); return; }
    markError(answer);
  });

  document.addEventListener('keydown', (event) => {
    if (!mod(event)) return;
    const typing = event.target.closest('input, textarea, select');
    if (event.key.toLowerCase() === 's') { event.preventDefault(); review(); }
    if (event.key.toLowerCase() === 'z' && !typing && !dialog.open) { event.preventDefault(); undoLast(); }
  });
  refresh();
}

// FK peek: the referenced row in a small card, read from the page the jump link opens (its
// table filtered to that row), without leaving this one. Escape or a click elsewhere closes it.
const peekButtons = document.querySelectorAll('button.fk-peek');
if (peekButtons.length) {
  const card = document.createElement('div');
  card.className = 'card fk-peek-card';
  card.setAttribute('role', 'dialog');
  card.tabIndex = -1;
  card.hidden = true;
  document.body.append(card);
  let opener = null;
  const close = () => { if (card.hidden) return; card.hidden = true; opener?.focus(); };
  for (const button of peekButtons) button.hidden = false;
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') close(); });
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('button.fk-peek');
    if (!button) { if (!card.contains(event.target)) close(); return; }
    event.stopPropagation();
    opener = button;
    const label = button.getAttribute('aria-label').replace(/^Peek: /, '');
    card.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted small', textContent: 'Loading…' }));
    card.setAttribute('aria-label', label);
    const box = button.getBoundingClientRect();
    card.style.left = `${Math.max(8, Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - 360))}px`;
    card.style.top = `${window.scrollY + box.bottom + 6}px`;
    card.hidden = false;
    try {
      const page = new DOMParser().parseFromString(await (await fetch(button.dataset.peek, { credentials: 'same-origin' })).text(), 'text/html');
      const names = [...page.querySelectorAll('#table-grid thead th[data-col]')].map((th) => th.dataset.col);
      const row = page.querySelector('#table-grid tbody tr');
      const title = Object.assign(document.createElement('h2'), { className: 'h3', textContent: label });
      if (!row) { card.replaceChildren(title, Object.assign(document.createElement('p'), { textContent: 'No such row: the key points nowhere.' })); card.focus(); return; }
      const table = document.createElement('table');
      table.className = 'data fk-peek-row';
      for (const [index, cell] of [...row.querySelectorAll('td[data-col]')].entries()) {
        const line = table.insertRow();
        const head = document.createElement('th');
        head.scope = 'row';
        head.textContent = names[index] ?? cell.dataset.col;
        const value = line.insertCell();
        value.textContent = cell.dataset.null === 'true' ? 'NULL' : (cell.dataset.value ?? cell.textContent.trim());
        value.className = cell.dataset.null === 'true' ? 'value null' : 'value';
        line.prepend(head);
      }
      const open = Object.assign(document.createElement('a'), { href: button.dataset.peek, textContent: 'Open the row ↗' });
      card.replaceChildren(title, table, open);
      card.focus();
    } catch (error) {
      card.replaceChildren(Object.assign(document.createElement('p'), { textContent: `Could not read the row: ${error.message}` }));
    }
  });
}
