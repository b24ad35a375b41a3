// Merge conflicts triage from the keyboard: j/k move between conflicts, 1 takes ours, 2 theirs,
// e edits the conflict's first differing cell (its custom value), Escape goes back to the conflict.
const conflicts = [...document.querySelectorAll('.merge-conflicts .conflict')];
let current = -1;
function focus(index) {
  if (!conflicts.length) return;
  current = Math.max(0, Math.min(conflicts.length - 1, index));
  conflicts.forEach((c, i) => c.classList.toggle('active', i === current));
  conflicts[current].focus();
  conflicts[current].scrollIntoView({ block: 'nearest' });
}
// Typing a custom value chooses "custom value" for that cell; emptying it gives back the choice before.
for (const input of document.querySelectorAll('.merge-conflicts .cell-pick input[name^="value."]')) {
  input.addEventListener('input', () => {
    const pick = input.closest('.cell-pick').querySelector('select');
    if (!pick) return;
    if (input.value !== '' && pick.value !== 'custom') {
      input.dataset.before = pick.value;
      pick.value = 'custom';
    } else if (input.value === '' && input.dataset.before !== undefined) {
      pick.value = input.dataset.before;
      delete input.dataset.before;
    }
  });
}
document.addEventListener('keydown', (event) => {
  if (!conflicts.length || event.metaKey || event.ctrlKey || event.altKey) return;
  const editing = event.target.closest && event.target.closest('input[type=text], input:not([type]), textarea, select');
  if (editing) {
    const conflict = editing.closest('.conflict');
    if (event.key === 'Escape' && conflict) {
      focus(conflicts.indexOf(conflict));
      event.preventDefault();
    }
    return;
  }
  const key = event.key;
  if (key === 'j') focus(current + 1);
  else if (key === 'k') focus(current - 1);
  else if ((key === '1' || key === '2') && current >= 0) {
    const radio = conflicts[current].querySelector(`input[value=${key === '1' ? 'target' : 'source'}]`);
    if (radio) { radio.checked = true; focus(current + 1); }
  } else if (key === 'e' && current >= 0) {
    const value = conflicts[current].querySelector('.cell-pick input[name^="value."]');
    if (!value) return;
    value.focus();
    value.select();
  } else return;
  event.preventDefault();
});
