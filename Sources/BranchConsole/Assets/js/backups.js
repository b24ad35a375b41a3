// Job pages (backup, restore, verification): reload while the job runs, so its step and bytes
// move without anyone pressing Refresh. The page itself works without this.
const job = document.querySelector('[data-job-running]');
if (job) setTimeout(() => location.reload(), 1500);
