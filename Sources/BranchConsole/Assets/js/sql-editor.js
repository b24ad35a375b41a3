// SQL editor: Mod+Enter runs; the snippet form saves what is in the editor; an unsent draft is
// kept per project in this browser (restore the last tab). The page works without it.

const isMac = navigator.platform.toUpperCase().includes('MAC');
const input = document.getElementById('sql-input');
const form = document.getElementById('sql-form');
if (input && form) {
  const key = `branch.sql.${location.pathname}`;
  if (!input.value.trim()) input.value = localStorage.getItem(key) ?? '';
  input.addEventListener('input', () => localStorage.setItem(key, input.value));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (isMac ? event.metaKey : event.ctrlKey)) {
      event.preventDefault();
      form.requestSubmit(document.getElementById('sql-run'));
    }
  });
  document.getElementById('snippet-form')?.addEventListener('submit', () => {
    document.getElementById('snippet-sql').value = input.value;
  });
}

// Copy a result grid as Markdown, JSON or CSV. Values come from the cells as shown; NULL is
// NULL (not the text "NULL"), numbers, booleans and JSON stay typed in JSON.
const numeric = new Set(['int2', 'int4', 'float4', 'float8', 'oid']);
function resultOf(section) {
  const table = section.querySelector('table.result-grid');
  const columns = [...table.querySelectorAll('thead th')].map((th) => ({ name: th.dataset.name, type: th.dataset.type }));
  const rows = [...table.querySelectorAll('tbody tr')].map((tr) =>
    [...tr.children].map((td) => (td.classList.contains('null') ? null : td.textContent)));
  return { columns, rows };
}
function typed(value, type) {
  if (value === null) return null;
  if (numeric.has(type) && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  if (type === 'bool') return value === 'true' || value === 't';
  if (type === 'json' || type === 'jsonb') { try { return JSON.parse(value); } catch { return value; } }
  return value;
}
const formats = {
  markdown({ columns, rows }) {
    const cell = (value) => (value === null ? 'NULL' : value.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('\n', '<br>'));
    return [columns.map((c) => cell(c.name)), columns.map(() => '---'), ...rows.map((row) => row.map(cell))]
      .map((line) => `| ${line.join(' | ')} |`).join('\n');
  },
  json({ columns, rows }) {
    return JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, typed(row[i], c.type)]))), null, 2);
  },
  csv({ columns, rows }) {
    const cell = (value) => (value === null ? '' : /[",\r\n]/.test(value) || value === '' ? `"${value.replaceAll('"', '""')}"` : value);
    return [columns.map((c) => cell(c.name)), ...rows.map((row) => row.map(cell))].map((line) => line.join(',')).join('\r\n');
  },
};
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Plain HTTP on another host: the clipboard API is missing, the old way still works.
  const area = Object.assign(document.createElement('textarea'), { value: text });
  area.setAttribute('readonly', '');
  area.className = 'visually-hidden';
  document.body.append(area);
  area.select();
  const copied = document.execCommand('copy');
  area.remove();
  if (!copied) throw new Error('copy refused');
}
for (const bar of document.querySelectorAll('.result-copy')) {
  bar.hidden = false;
  const status = bar.querySelector('[role="status"]');
  bar.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy-as]');
    if (!button) return;
    const result = resultOf(bar.closest('.sql-result'));
    try {
      await copyText(formats[button.dataset.copyAs](result));
      status.textContent = `Copied ${result.rows.length} row${result.rows.length === 1 ? '' : 's'} as ${button.textContent}.`;
    } catch {
      status.textContent = 'Copy failed: select the grid instead.';
    }
  });
}
