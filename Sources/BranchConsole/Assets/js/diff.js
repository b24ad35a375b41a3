// Merge conflicts triage from the keyboard: j/k move between conflicts, 1 takes ours, 2 theirs.
const conflicts = [...document.querySelectorAll('.merge-conflicts .conflict')];
let current = -1;
function focus(index) {
  if (!conflicts.length) return;
  current = Math.max(0, Math.min(conflicts.length - 1, index));
  conflicts.forEach((c, i) => c.classList.toggle('active', i === current));
  conflicts[current].focus();
  conflicts[current].scrollIntoView({ block: 'nearest' });
}
document.addEventListener('keydown', (event) => {
  if (!conflicts.length || event.metaKey || event.ctrlKey || event.altKey) return;
  if (event.target.closest && event.target.closest('input[type=text], input:not([type]), textarea, select')) return;
  const key = event.key;
  if (key === 'j') focus(current + 1);
  else if (key === 'k') focus(current - 1);
  else if ((key === '1' || key === '2') && current >= 0) {
    const radio = conflicts[current].querySelector(`input[value=${key === '1' ? 'target' : 'source'}]`);
    if (radio) { radio.checked = true; focus(current + 1); }
  } else return;
  event.preventDefault();
});
