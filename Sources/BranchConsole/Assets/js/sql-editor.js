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
