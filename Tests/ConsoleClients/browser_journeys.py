"""The console in a real browser (headless Chromium via Selenium): the journeys of issue 15 in one
session, in order, then axe-core on every page in both themes, then a viewer who finds no way to
change anything.

Usage: browser_journeys.py BASE_URL ADMIN_KEY PROJECT VIEWER_EMAIL VIEWER_PASSWORD
PROJECT is a project the caller made with a table `items (id, name, note)` whose row 1 is
(1, 'widget', …) and whose other rows hold `<script>`/`<img onerror>` markup setting
`window.__xss`, then a snapshot named `seeded` and a finished backup; VIEWER_EMAIL is a viewer
of PROJECT only. The service's first-run screen must not have been used yet.
BRANCH_SCREENSHOTS=DIR saves DIR/<page>-dark.png and -light.png of every page.
Prints one line per check; exits non-zero if a journey failed or axe found a serious or critical
violation."""
import os
import re
import sys
import time
import traceback
import urllib.parse

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_support import Browser, JourneyFailure, check  # noqa: E402

BASE, ADMIN_KEY, PROJECT, VIEWER_EMAIL, VIEWER_PASSWORD = sys.argv[1:6]
SCREENSHOTS = os.environ.get("BRANCH_SCREENSHOTS") or None
ADMIN_EMAIL, ADMIN_PASSWORD = "owner@example.com", "correct horse battery staple"
NEW_PROJECT = "shop"
BRANCH = "feature"
EDITED = "widget edited in the browser"
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
P = f"/projects/{PROJECT}"
q = urllib.parse.quote


def project_pages():
    """Every page of the project, by its screenshot name."""
    return {
        "overview": P,
        "timeline": f"{P}/timeline",
        "branches": f"{P}/branches",
        "table-editor": f"{P}/tables?branch={BRANCH}&table=public.items",
        "sql-editor": f"{P}/sql",
        "diff": f"{P}/diff?from=main&to={BRANCH}",
        "merge": f"{P}/merge?source={BRANCH}&target=main",
        "backups": f"{P}/backups",
        "database": f"{P}/database",
        "monitoring": f"{P}/monitoring",
        "monitoring-branches": f"{P}/monitoring/branches",
        "auth-users": f"{P}/auth",
        "auth-settings": f"{P}/auth/settings",
        "project-settings": f"{P}/settings",
    }


INSTANCE_PAGES = {"projects": "/", "activity": "/activity", "instance-settings": "/settings", "account": "/account"}


class Journeys:
    def __init__(self, browser):
        self.b = browser
        self.notes = []

    # ------------------------------------------------------------ helpers

    def sql(self, text, branch="main"):
        """Runs `text` in the SQL editor; returns the text of the page's main part after the run."""
        b = self.b
        b.get(f"{P}/sql?branch={q(branch)}")
        form = b.first("form#sql-form") or b.form(r"/sql")
        b.fill(form, {"sql": text})
        b.submit(form, "Run")
        return b.driver.find_element(By.TAG_NAME, "main").text

    def results(self):
        """The cells of the SQL editor's result grids, row by row."""
        return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
                for row in self.b.find("table.result-grid tbody tr")]

    def value_of_row_1(self, branch="main"):
        self.sql("select name from items where id = 1", branch)
        rows = self.results()
        if not rows:
            raise JourneyFailure(f"the SQL editor shows no result ({self.b.error_flash()})")
        return rows[0][0]

    # ------------------------------------------------------------ 1. sign in

    def sign_in(self):
        b = self.b
        b.get("/")
        if os.environ.get("BRANCH_BROWSER_REUSE") and b.path.startswith("/login"):
            # Only when iterating on these journeys against a service whose first run is done.
            b.post_form(r"^/login$", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            return
        check(b.path.startswith("/setup"), "a first visit goes to the first-run screen")
        b.audit("setup", "/setup", themes=("dark",), themed=False)
        b.post_form(r"^/setup$", {"admin_key": ADMIN_KEY, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                  "confirm": ADMIN_PASSWORD})
        check(b.path == "/" and "Projects" in b.h1(), "the first run signs the admin in, on the projects dashboard")
        check(b.first(f'a[href="{P}"]') is not None, f"the dashboard lists {PROJECT}")

    # ------------------------------------------------------------ keyboard and theme

    def keyboard(self):
        b = self.b
        b.get(P)
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()
        b.wait_for("#palette[open]", 5)
        check(True, "Ctrl+K opens the command palette")
        ActionChains(b.driver).send_keys("branches").perform()
        time.sleep(0.2)
        options = [e.text for e in b.find("#palette-results [role=option]")]
        check(options and "Branches" in options[0], f"the palette finds the branches page by typing ({options[:3]})")
        ActionChains(b.driver).send_keys(Keys.ESCAPE).perform()
        time.sleep(0.2)
        check(not b.find("#palette[open]"), "Esc closes the palette")
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()
        b.wait_for("#palette[open]", 5)
        ActionChains(b.driver).send_keys("branches", Keys.ENTER).perform()
        WebDriverWait(b.driver, 10).until(lambda d: b.path.startswith(f"{P}/branches"))
        b.ready()
        check(True, "Enter in the palette opens the page it found")
        b.get(P)
        ActionChains(b.driver).send_keys(Keys.TAB).perform()
        focused = b.js("return document.activeElement.textContent.trim()")
        check(focused == "Skip to content", f"the first Tab reaches “Skip to content” ({focused!r})")
        b.js("document.activeElement && document.activeElement.blur()")
        ActionChains(b.driver).send_keys("?").perform()
        b.wait_for("#shortcuts[open]", 5)
        check(True, "? opens the shortcuts sheet")
        ActionChains(b.driver).send_keys(Keys.ESCAPE).perform()
        time.sleep(0.2)
        b.js("document.activeElement && document.activeElement.blur()")
        ActionChains(b.driver).send_keys("g").pause(0.1).send_keys("t").perform()
        for _ in range(50):
            if b.path.startswith(f"{P}/timeline"):
                break
            time.sleep(0.1)
        check(b.path.startswith(f"{P}/timeline"), "g then t opens the timeline")
        before = b.theme()
        b.wait_for("[data-theme-toggle]").click()
        after = b.theme()
        check(before != after and after in ("light", "dark"), f"the theme toggle switches html[data-theme] ({before} → {after})")
        b.get(b.path)
        check(b.theme() == after, "the chosen theme survives a reload (cookie)")
        b.set_theme("dark")

    # ------------------------------------------------------------ 2. create a project and copy its URL

    def create_project(self):
        b = self.b
        b.get("/")
        started = time.perf_counter()
        b.post_form(r"^/projects$", {"name": NEW_PROJECT})
        elapsed = time.perf_counter() - started
        check(NEW_PROJECT in b.h1(), f"New project shows {NEW_PROJECT} ready ({elapsed * 1000:.0f} ms in the browser)")
        url = b.first("#created-url")
        copy = next((e for e in b.find("[data-copy]") if (e.get_attribute("data-copy") or "").startswith("postgres")), None)
        check(url is not None and copy is not None, "the new project's Postgres URL has a Copy button")
        check(copy.get_attribute("data-copy") == url.text.strip(), "the Copy button holds the URL shown")
        status, _, _, _ = b.forged_post("/projects", {"name": "forged"}, token=False)
        check(status == 403, f"a POST without the CSRF token is refused ({status})")
        b.axe("project-created", "dark")
        b.screenshot("project-created-dark")
        copy.click()
        copied = b.driver.execute_async_script(
            "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERROR ' + e))")
        if copied.startswith("ERROR"):
            print(f"note the clipboard could not be read back ({copied}); the button's data-copy was checked instead")
        else:
            check(copied == url.text.strip(), "clicking Copy puts the URL on the clipboard")

    # ------------------------------------------------------------ 3. create a branch from the timeline

    def create_branch(self):
        b = self.b
        b.get(f"{P}/timeline")
        dots = b.find("svg#timeline a.point")
        check(dots, "the timeline shows snapshots as dots")
        # The caller's snapshot "seeded" holds the table (the project's first, automatic one does not).
        dots = [d for d in dots if "seeded" in (d.get_attribute("textContent") or "")] or dots
        where = "the timeline"
        try:
            ActionChains(b.driver).move_to_element(dots[0]).click().perform()
            b.wait_for("form#branch-here", 10)
        except (JourneyFailure, WebDriverException):
            b.get(b.js("return arguments[0].getAttribute('href')", dots[0]))
        if b.find("form#branch-here"):
            page, action = b.path, r"/branches"
            check(True, "clicking a snapshot on the timeline offers “Branch here”")
        else:
            self.notes.append("the timeline offered no “Branch here” form: the branch was created from the branches page")
            print("note the timeline has no create-branch form: using the branches page's")
            b.get(f"{P}/branches")
            page, action, where = b.path, r"/branches$", "the branches page"
        form = b.first("form#branch-here", "form#create-branch") or b.form(action)
        # The browser's own check (pattern=) would stop the name before the server sees it.
        b.js("arguments[0].noValidate = true", form)
        b.fill(form, {"name": XSS_SCRIPT})
        b.submit(form)
        check(b.error_flash() and XSS_SCRIPT not in b.page_source(), "the server refuses a branch name with <script> and shows it escaped")
        b.get(page)
        form = b.first("form#branch-here", "form#create-branch") or b.form(action)
        b.fill(form, {"name": BRANCH})
        b.submit(form)
        check(not b.error_flash(), f"creating {BRANCH} from {where} shows no error ({b.flash() or b.h1()})")
        b.get(f"{P}/branches")
        check(any(e.text.strip().startswith(BRANCH) for e in b.find("main a, main code, main th")),
              f"{BRANCH} is listed on the branches page")

    # ------------------------------------------------------------ 4. edit a row there and see the diff

    def cell(self, row_id, column):
        for row in self.b.find("#table-grid tbody tr"):
            first = row.find_elements(By.CSS_SELECTOR, 'td[data-col="id"]')
            if first and first[0].text.strip() == str(row_id):
                return row.find_element(By.CSS_SELECTOR, f'td[data-col="{column}"]')
        raise JourneyFailure(f"no row {row_id} in the grid on {self.b.path}")

    def edit_cell(self, row_id, column, value):
        b = self.b
        ActionChains(b.driver).double_click(self.cell(row_id, column)).perform()
        editor = b.wait_for(f'#table-grid td[data-col="{column}"] input', 5)
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(value, Keys.ENTER)

    def edit_row(self):
        b = self.b
        b.get(f"{P}/tables?branch={BRANCH}&table=public.items")
        source = b.page_source()
        check("widget" in source, "the table editor shows the rows of items on the branch")
        check(b.find("#table-grid td") and "window.__xss" in b.driver.find_element(By.ID, "table-grid").text,
              "markup in table data is shown as text")
        self.edit_cell(1, "name", EDITED)
        check("1" in b.wait_for("#pending-count").text, f"the edit waits in the queue ({b.find('#pending-count')[0].text})")
        self.edit_cell(3, "note", "an edit to undo")
        b.js("document.activeElement && document.activeElement.blur()")
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        time.sleep(0.2)
        check("an edit to undo" not in self.cell(3, "note").text, "Ctrl+Z undoes the last edit")
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
        b.wait_for("#review-dialog[open]", 10)
        review = b.wait_for("#review-sql").text
        check("UPDATE" in review.upper() and EDITED in review, "Ctrl+S shows the SQL before saving")
        html = b.driver.find_element(By.TAG_NAME, "html")
        b.wait_for("#save-changes").click()
        try:
            WebDriverWait(b.driver, 30).until(lambda d: b.stale(html))
        except TimeoutException:
            raise JourneyFailure(f"saving did not reload the grid ({b.find('#review-error')[0].text if b.find('#review-error') else ''})")
        b.ready()
        check(self.cell(1, "name").text == EDITED, "the saved edit is in the grid after a reload")
        b.get(f"{P}/diff?from=main&to={BRANCH}&table=public.items")
        text = b.driver.find_element(By.TAG_NAME, "main").text
        check(EDITED in text and "widget" in text, "the diff against main shows the old and the new value")
        check(b.find("tr.modified-old, tr.modified-new, td.changed"), "the changed row is marked as modified")

    # ------------------------------------------------------------ 5. merge it

    def merge(self):
        b = self.b
        b.get(f"{P}/merge?source={BRANCH}&target=main")
        form = b.first("form#merge-form") or b.form(r"/merge$")
        b.submit(form, "Merge")
        check(b.first("#merge-result") is not None and not b.error_flash(), f"the merge is applied ({b.h1()})")
        check(b.first("form#merge-undo") is not None, "the merge can be undone from its result")
        check(EDITED in self.value_of_row_1("main"), "main has the branch's edit after the merge")

    # ------------------------------------------------------------ 6. snapshot, restore in place, undo

    def snapshot_restore_undo(self):
        b = self.b
        b.get(f"{P}/backups")
        form = b.first("form#take-snapshot") or b.form(r"/snapshots$")
        b.fill(form, {"name": "before-change", "branch": "main"})
        b.submit(form)
        check(not b.error_flash() and "before-change" in b.page_source(), f"a snapshot is taken ({b.flash()})")
        before = self.value_of_row_1()
        self.sql("update items set name = 'changed after the snapshot' where id = 1")
        check("changed after" in self.value_of_row_1(), "row 1 changed after the snapshot")
        b.get(f"{P}/backups")
        row = next((r for r in b.find("#snapshots tbody tr") if "before-change" in r.text), None)
        if row is None:
            raise JourneyFailure("the snapshot before-change is not listed")
        b.get(row.find_element(By.PARTIAL_LINK_TEXT, "Restore").get_attribute("href"))
        form = b.first("form#restore-in-place") or b.form(r"/restore")
        b.fill(form, {"branch": "main", "confirm": True})
        b.submit(form)
        previous = b.first("#previous-snapshot")
        check(previous is not None and not b.error_flash(), f"the restore in place is done ({b.h1()}{b.error_flash()})")
        previous = previous.text.strip()
        check(self.value_of_row_1() == before, f"the restore brought row 1 back ({before})")
        b.get(f"/activity?project={PROJECT}")
        undo = next((f for f in b.forms(r"undo") if previous in (f.get_attribute("innerHTML") or "")), None)
        if undo is None:
            raise JourneyFailure(f"the activity feed has no Undo for the restore (previous state {previous})")
        b.submit(undo)
        check(not b.error_flash(), f"the restore is undone from the activity feed ({b.flash()})")
        check("changed after" in self.value_of_row_1(), "undoing the restore brought back the state before it")

    # ------------------------------------------------------------ 7. SQL with an error and its position

    def sql_error(self):
        b = self.b
        self.sql("select 1;\nselect nosuchcolumn from items;")
        error = b.first("#sql-error")
        check(error is not None and "nosuchcolumn" in error.text, "the SQL error is shown with its message")
        place = b.first("#sql-error-place")
        caret = b.first("#sql-error-caret")
        check(place is not None and re.search(r"line 2", place.text, re.I), f"the error gives its position ({place.text if place else None})")
        lines = caret.text.split("\n") if caret is not None else []
        marks = [i for i, line in enumerate(lines) if line.strip() == "^"]
        pointed = lines[marks[0] - 1][lines[marks[0]].index("^"):] if marks and marks[0] > 0 else ""
        check(pointed.startswith("nosuchcolumn"), f"the caret points at the unknown column ({caret.text if caret else None!r})")
        self.sql(f"select '{XSS_SCRIPT}' as a, '{XSS_IMG}' as b")
        cells = [cell for row in self.results() for cell in row]
        check(XSS_SCRIPT in cells and XSS_IMG in cells, "SQL results with markup show it as text")
        history = b.first("#history-list")
        check(history is not None and "window.__xss" in history.text, "the history shows the SQL text, escaped")
        self.copy_results()

    def copy_results(self):
        """Copy as Markdown, JSON and CSV: NULL, pipes, commas, quotes, booleans and JSON survive."""
        b = self.b
        self.sql("""select 1 as n, null::text as t, 'a|b,"c"' as s, true as ok, '{"k": [1]}'::jsonb as j""")
        expected = {
            "Markdown": '| n | t | s | ok | j |\n| --- | --- | --- | --- | --- |\n| 1 | NULL | a\\|b,"c" | true | {"k":[1]} |',
            "JSON": '[\n  {\n    "n": 1,\n    "t": null,\n    "s": "a|b,\\"c\\"",\n    "ok": true,\n    "j": {\n      "k": [\n        1\n      ]\n    }\n  }\n]',
            "CSV": 'n,t,s,ok,j\r\n1,,"a|b,""c""",true,"{""k"":[1]}"',
        }
        for label, text in expected.items():
            button = next((e for e in b.find(".result-copy button") if e.text == label), None)
            check(button is not None and button.is_displayed(), f"the result has a visible Copy as {label} button")
            b.js("document.querySelector('.result-copy [role=status]').textContent = ''")
            button.click()
            WebDriverWait(b.driver, 10).until(lambda d: "Copied" in (b.first(".result-copy [role=status]").text or ""))
            copied = b.driver.execute_async_script(
                "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERROR ' + e))")
            check(copied == text, f"Copy as {label} puts the result on the clipboard ({copied!r})")

    # ------------------------------------------------------------ 8. look at a backup and verify it

    def backup_verify(self):
        b = self.b
        b.get(f"{P}/backups")
        link = next((a for a in b.find("#backups a") if re.search(r"/backups/[^/?]+$", a.get_attribute("href") or "")), None)
        if link is None:
            raise JourneyFailure("the backups list links to no backup")
        b.get(link.get_attribute("href"))
        check("Backup" in b.h1(), f"a backup's page opens ({b.h1()})")
        form = b.first("form#verify-backup") or b.form(r"/verify")
        b.submit(form)
        check(not b.error_flash(), f"verification starts ({b.flash()})")
        deadline = time.time() + 180
        while time.time() < deadline and not b.find("#verify-result") and not b.error_flash():
            time.sleep(2)
            b.get(b.path)
        result = b.first("#verify-result")
        check(result is not None and "Verification OK" in result.text,
              f"the backup is verified ({result.text if result else b.error_flash() or 'no result in 180 s'})")

    # ------------------------------------------------------------ 9. rotate a key

    def rotate_key(self):
        b = self.b
        b.get(f"{P}/settings")
        before = b.page_source()
        form = b.first("form#rotate-keys") or b.form(r"/keys/rotate|/rotate")
        b.submit(form)
        check(not b.error_flash(), f"the keys are rotated ({b.flash()})")
        after = b.page_source()
        old = set(re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", before))
        new = set(re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", after))
        check(new and not (new & old), "the page shows new keys, none of the old ones")

    # ------------------------------------------------------------ accessibility and screenshots

    def linked_pages(self):
        """Pages reached from others' links: a branch, a snapshot's restore, a backup, a row's
        form, a point on the timeline."""
        b, found = self.b, {"branch-detail": f"{P}/branches/{BRANCH}"}

        def first_link(page, path, css, pattern=None):
            b.get(path)
            for link in b.find(css):
                href = b.js("return arguments[0].getAttribute('href') || ''", link)
                if href and (pattern is None or re.search(pattern, href)):
                    found[page] = href
                    return

        first_link("restore", f"{P}/backups", "#snapshots a", r"/restore")
        first_link("backup-detail", f"{P}/backups", "#backups a", r"/backups/[^/?]+$")
        first_link("table-row", f"{P}/tables?branch={BRANCH}&table=public.items", "#table-grid a", r"/tables/row")
        first_link("row-history", f"{P}/tables?branch=main&table=public.items", "#table-grid a", r"/tables/history")
        first_link("timeline-point", f"{P}/timeline", "svg#timeline a.point")
        return found

    def typed_editors(self):
        """orders (seeded by ConsoleBrowserTests): its item column peeks at the items row it
        references; booleans and enums edit from a list, dates with a picker, JSON in a text area;
        a number or JSON that does not parse stays in its editor, marked invalid."""
        b = self.b
        b.get(f"{P}/tables?branch=main&table=public.orders")
        peek = b.first('#table-grid td[data-col="item"] button.fk-peek')
        check(peek is not None and peek.is_displayed(), "a foreign key's value has a Peek button")
        peek.click()
        card = WebDriverWait(b.driver, 10).until(
            lambda d: next((c for c in b.find(".fk-peek-card") if c.is_displayed() and c.find_elements(By.CSS_SELECTOR, "table")), None))
        names = [th.text for th in card.find_elements(By.CSS_SELECTOR, "th")]
        check(names == ["id", "name", "note"] and card.find_elements(By.PARTIAL_LINK_TEXT, "Open the row"),
              f"Peek shows the referenced items row in a card ({names})")
        ActionChains(b.driver).send_keys(Keys.ESCAPE).perform()
        check(not card.is_displayed(), "Escape closes the card")

        def editor(column, css):
            ActionChains(b.driver).double_click(self.cell(1, column)).perform()
            return b.wait_for(f'#table-grid td[data-col="{column}"] {css}', 5)

        paid = editor("paid", "select")
        check([o.text for o in paid.find_elements(By.TAG_NAME, "option")] == ["true", "false"], "a boolean edits from a true/false list")
        paid.send_keys("t", Keys.ENTER)
        mood = editor("mood", "select")
        check([o.text for o in mood.find_elements(By.TAG_NAME, "option")] == ["happy", "sad"], "an enum edits from its labels")
        mood.send_keys("s", Keys.ENTER)
        due = editor("due", "input")
        check(due.get_attribute("type") == "date" and due.get_attribute("value") == "2026-01-15", "a date edits with a date picker")
        due.send_keys(Keys.ESCAPE)
        number = editor("id", "input")
        number.send_keys(Keys.CONTROL, "a")
        number.send_keys("twelve", Keys.ENTER)
        check(number.get_attribute("aria-invalid") == "true" and b.first('#table-grid td[data-col="id"] input') is not None,
              "a number that does not parse stays in its editor, marked invalid")
        number.send_keys(Keys.ESCAPE)
        meta = editor("meta", "textarea")
        meta.send_keys(Keys.CONTROL, "a")
        meta.send_keys('{"a": 2', Keys.ENTER)
        check(meta.get_attribute("aria-invalid") == "true", "JSON that does not parse stays in its editor, marked invalid")
        meta.send_keys("}", Keys.ENTER)
        check("3" in b.wait_for("#pending-count").text, f"three typed edits wait in the queue ({b.first('#pending-count').text})")
        ActionChains(b.driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
        b.wait_for("#review-dialog[open]", 10)
        html = b.driver.find_element(By.TAG_NAME, "html")
        b.wait_for("#save-changes").click()
        WebDriverWait(b.driver, 30).until(lambda d: b.stale(html))
        b.ready()
        saved = {column: self.cell(1, column).text for column in ("paid", "mood", "meta")}
        check(saved == {"paid": "true", "mood": "sad", "meta": '{"a": 2}'}, f"the typed edits are saved ({saved})")

    def schema_map(self):
        """Typing in Find table marks the table on the map and keeps it in the URL; Download PNG
        saves a PNG of the map at twice its size."""
        b = self.b
        b.get(f"{P}/database")
        find = b.first("#schema-find")
        check(find is not None, "the database page has a Find table field")
        find.send_keys("ITEM")
        WebDriverWait(b.driver, 10).until(lambda d: "match" in (b.first("#schema-find-status").text or ""))
        found = [g.get_attribute("data-table") for g in b.find("#schema-svg g.table-box.found")]
        others = [g.get_attribute("data-table") for g in b.find("#schema-svg g.table-box:not(.found)")]
        check("items" in found and all("item" in name for name in found) and all("item" not in name for name in others)
              and all("dimmed" in g.get_attribute("class") for g in b.find("#schema-svg g.table-box:not(.found)")),
              f"typing marks the matching tables and dims the others ({found}; {others})")
        check("find=ITEM" in b.driver.current_url, "the URL keeps what was found")
        folder = os.path.join(b.profile, "downloads")
        os.makedirs(folder, exist_ok=True)
        b.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": folder})
        button = b.first("#download-schema-png")
        check(button is not None and button.is_displayed(), "Download PNG shows once the script runs")
        button.click()
        WebDriverWait(b.driver, 20).until(lambda d: any(n.endswith(".png") for n in os.listdir(folder)))
        name = next(n for n in os.listdir(folder) if n.endswith(".png"))
        with open(os.path.join(folder, name), "rb") as file:
            data = file.read()
        width = int.from_bytes(data[16:20], "big")
        svg_width = int(float(b.first("#schema-svg").get_attribute("width")))
        check(data[:8] == b"\x89PNG\r\n\x1a\n" and width == 2 * svg_width and name.startswith(f"{PROJECT}-") and name.endswith("-public.png"),
              f"the PNG is the map at twice its size ({name}, {width} px wide for {svg_width})")

    def audit_everything(self):
        b = self.b
        for page, path in {**INSTANCE_PAGES, **project_pages(), **self.linked_pages()}.items():
            try:
                b.audit(page, path)
            except (JourneyFailure, WebDriverException) as failure:
                failure = failure.msg if isinstance(failure, WebDriverException) else failure
                b.violations.append((page, "-", "page-failed", "critical", str(failure), []))
                print(f"FAIL {page}: {failure}")
        b.set_theme("dark")
        b.get("/projects/nothere")
        check("nothere" in b.page_source(), "an unknown project shows the error page")
        b.axe("error", "dark")
        b.screenshot("error-dark")

    # ------------------------------------------------------------ 10. a viewer can change nothing

    def viewer(self):
        b = self.b
        b.get("/")
        actions = {}
        # What an admin may send from each page (any signed-in user may create a project: not that).
        for page, path in {**project_pages(), "activity": "/activity", "instance-settings": "/settings"}.items():
            b.get(path)
            for form in b.forms(None):
                action = re.sub(r"^https?://[^/]+", "", form.get_attribute("action") or "")
                if action and action not in ("/logout", "/projects"):
                    fields = {}
                    for element in form.find_elements(By.CSS_SELECTOR, "input[name], textarea[name], select[name]"):
                        name = element.get_attribute("name")
                        # The admin's own values pass validation, so a refusal is the permission check's.
                        if name != "_csrf":
                            value = element.get_attribute("value") or ""
                            fields[name] = value or ("x" if element.get_attribute("required") else "")
                    actions.setdefault(action, fields)
        b.get("/")
        b.post_form(r"^/logout$", {})
        check("/login" in b.path, "signing out leads to the sign-in page")
        b.audit("login", "/login", themes=("dark",), themed=False)
        b.post_form(r"^/login$", {"email": VIEWER_EMAIL, "password": VIEWER_PASSWORD})
        check(b.path == "/", "the viewer signs in")
        check(b.first(f'a[href="{P}"]') is not None and b.first(f'a[href="/projects/{NEW_PROJECT}"]') is None,
              f"the viewer's dashboard lists {PROJECT} only")
        for page, path in {**project_pages(), "activity": "/activity", "instance-settings": "/settings"}.items():
            b.get(path)
            if page == "overview":
                check(PROJECT in b.page_source(), "the viewer sees the project")
            writable = []
            for form in b.forms(None):
                action = re.sub(r"^https?://[^/]+", "", form.get_attribute("action") or "")
                if action == "/logout":
                    continue
                disabled = b.js("""const f = arguments[0];
                    if (f.closest('fieldset[disabled]') || f.querySelector(':scope > fieldset[disabled]')) return true;
                    const buttons = [...f.querySelectorAll('button, input[type=submit], input[type=image]')]
                      .filter(x => (x.type || 'submit') === 'submit' || x.type === 'image');
                    // Without a submit button only Enter in a text field sends a form.
                    const typed = [...f.querySelectorAll('input, textarea')].filter(x => !['hidden', 'checkbox', 'radio'].includes(x.type));
                    if (buttons.length === 0) return typed.every(x => x.disabled);
                    return buttons.every(x => x.disabled);""", form)
                # A viewer may query: the SQL editor says its runs are read-only (checked below).
                read_only = form.get_attribute("id") == "sql-form" and b.first("#sql-viewer-read-only") is not None
                if not disabled and not read_only:
                    writable.append(action)
            check(not writable, f"the viewer finds no enabled POST form on {page} ({writable})")
            editable = b.find('[contenteditable="true"], [data-edit-cell]:not([aria-disabled="true"])')
            check(not editable, f"the viewer finds no editable cell on {page}")
        before = self.value_of_row_1()
        self.sql("update items set name = 'a viewer was here' where id = 1")
        check(b.first("#sql-error") is not None, f"the viewer's UPDATE in the SQL editor fails ({b.error_flash()[:120]})")
        check(self.value_of_row_1() == before, "the viewer's SQL changed nothing")
        b.get(P)
        refused = []
        # The SQL editor's run is the viewer's read-only query (above); every other action must be refused.
        actions = {action: fields for action, fields in actions.items() if not re.search(r"/sql(\?|$)", action)}
        for action, fields in list(actions.items())[:40]:
            status, redirected, landed, body = b.forged_post(action, fields)
            ok = status in (401, 403, 404) or (redirected and 'flash error' in body)
            if not ok:
                refused.append(f"{action} → {status}{' ' + landed if redirected else ''}")
        check(actions, f"the admin's pages had forms to forge ({len(actions)})")
        check(not refused, f"every forged POST of the viewer is refused ({refused})")
        status, body = b.fetch(f"/projects/{NEW_PROJECT}")
        unknown, _ = b.fetch("/projects/no-such-project")
        check(status == 404 and unknown == 404 and "postgres://" not in body,
              f"a project the viewer is no member of answers 404, like one that does not exist ({status})")
        status, _, _, _ = b.forged_post(f"/projects/{NEW_PROJECT}/branches", {"name": "sneaky"})
        check(status in (403, 404), f"a forged POST to another project is refused ({status})")


def main():
    failures = []
    with Browser(BASE, SCREENSHOTS) as browser:
        journeys = Journeys(browser)
        steps = [
            ("1. sign in", journeys.sign_in),
            ("keyboard and theme", journeys.keyboard),
            ("2. create a project and copy its URL", journeys.create_project),
            ("3. create a branch from the timeline", journeys.create_branch),
            ("4. edit a row and see the diff against main", journeys.edit_row),
            ("5. merge it", journeys.merge),
            ("6. snapshot, restore in place, undo the restore", journeys.snapshot_restore_undo),
            ("7. SQL with an error and its position", journeys.sql_error),
            ("8. look at a backup and verify it", journeys.backup_verify),
            ("9. rotate a key", journeys.rotate_key),
            ("typed cell editors and FK peek", journeys.typed_editors),
            ("schema map: find a table, download a PNG", journeys.schema_map),
            ("accessibility of every page, dark and light", journeys.audit_everything),
            ("10. a viewer can change nothing", journeys.viewer),
        ]
        for label, step in steps:
            print(f"---- {label}", flush=True)
            started = time.perf_counter()
            try:
                step()
                print(f"---- {label}: passed in {time.perf_counter() - started:.1f} s", flush=True)
            except (JourneyFailure, WebDriverException) as failure:
                message = failure.msg if isinstance(failure, WebDriverException) else str(failure)
                failures.append(f"{label}: {message}")
                print(f"FAIL {label}: {message} (at {browser.path if browser.driver else '?'})", flush=True)
                if isinstance(failure, WebDriverException):
                    traceback.print_exc(limit=3)
                if label == "1. sign in":
                    break  # nothing else can run signed out
        violations = browser.violations
        notes = journeys.notes
    print("==== summary")
    for note in notes:
        print(f"note {note}")
    for page, theme, rule, impact, help_text, targets in violations:
        print(f"a11y {page} ({theme}): {impact} {rule}: {help_text} — {'; '.join(targets[:8])}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures or violations:
        print(f"{len(failures)} journey(s) failed, {len(violations)} serious or critical accessibility violation(s)")
        return 1
    print("all browser journeys passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
