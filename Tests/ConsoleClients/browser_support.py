"""A headless Chromium driven by Selenium, as the browser journeys (browser_journeys.py) use it:
start and always stop it (also its leftover processes), visit pages, fill and send forms, read
flash messages, run axe-core (serious and critical violations fail), take screenshots in both
themes, and check that no injected markup ran (`window.__xss`)."""
import importlib.util
import os
import re
import shutil
import signal
import tempfile
import time

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import JavascriptException, NoAlertPresentException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1440, 900)


def axe_script():
    """A current axe-core: the one axe-playwright-python ships (4.x; scripts/test.sh installs it
    without Playwright), else the 2018 one bundled with axe-selenium-python."""
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "axe.min.js")
        if os.path.exists(path):
            return path
    print("note axe-playwright-python is missing: using axe-selenium-python's axe-core 3.1")
    return None


# The impacts that fail the accessibility check (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = ("serious", "critical")
# The axe rules a theme can fail: the themes differ only in colours (the same markup, other CSS
# custom properties), so the second theme of a page is checked for these alone.
COLOUR_RULES = "{runOnly: {type: 'rule', values: ['color-contrast', 'link-in-text-block']}}"


class JourneyFailure(Exception):
    """A check of a journey failed; the message says which."""


def check(condition, what):
    if not condition:
        raise JourneyFailure(what)
    print(f"ok   {what}", flush=True)


class Browser:
    """One Chromium session on the console at `base`. Use as a context manager: leaving it quits
    the driver and kills whatever Chromium process of this session is left."""

    def __init__(self, base, screenshots=None):
        self.base = base.rstrip("/")
        self.screenshots = screenshots
        # A profile of this run's own: its path finds this run's Chromium processes, and only them.
        # BRANCH_BROWSER_PROFILE lets the caller sweep them too, should this script be killed.
        given = os.environ.get("BRANCH_BROWSER_PROFILE")
        if given:
            os.makedirs(given, exist_ok=True)
        self.profile = given or tempfile.mkdtemp(prefix="branch-browser-")
        self.violations = []  # (page, theme, rule, impact, help, targets)
        self.audited = set()
        self.driver = None
        self.axe_script = axe_script()

    def __enter__(self):
        options = Options()
        options.binary_location = CHROMIUM
        # A `confirm()` before a destructive action is accepted: the journeys mean what they do.
        options.set_capability("unhandledPromptBehavior", "accept")
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                         "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--no-first-run",
                         "--disable-extensions", "--hide-scrollbars", "--force-color-profile=srgb"):
            options.add_argument(argument)
        self.service = Service(CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=self.service, options=options)
        # The viewport itself 1440×900 (the window size includes a frame even when headless).
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(60)
        try:
            self.driver.execute_cdp_cmd("Browser.grantPermissions", {
                "origin": self.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        except WebDriverException as error:
            print(f"note the clipboard permission could not be granted: {error.msg}")
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Quits the driver, then kills any process still running with this session's profile
        (only ours: the profile directory is unique to this run)."""
        try:
            if self.driver:
                self.driver.quit()
        except Exception as error:  # the browser may already be gone; the sweep below still runs
            print(f"note driver.quit(): {error}")
        finally:
            self.driver = None
            for pid in self.own_processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                if self.service and self.service.process and self.service.process.poll() is None:
                    self.service.process.kill()
            except Exception:
                pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def own_processes(self):
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().decode(errors="replace")
            except OSError:
                continue
            if self.profile in command:
                found.append(int(entry))
        return found

    # ------------------------------------------------------------ pages

    def url(self, path):
        return path if path.startswith("http") else self.base + path

    def get(self, path):
        self.driver.get(self.url(path))
        self.ready()
        self.assert_no_injection(path)

    def ready(self):
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    @property
    def path(self):
        return re.sub(r"^https?://[^/]+", "", self.driver.current_url)

    def title(self):
        return self.driver.title

    def h1(self):
        found = self.driver.find_elements(By.CSS_SELECTOR, "main h1")
        return found[0].text if found else ""

    def wait_for(self, css, timeout=20, visible=False):
        try:
            return WebDriverWait(self.driver, timeout).until(
                lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, css) if not visible or e.is_displayed()), None))
        except TimeoutException:
            raise JourneyFailure(f"no element {css!r} within {timeout} s on {self.path}")

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def first(self, *selectors):
        """The first element matching any of `selectors`, or None."""
        for css in selectors:
            found = self.find(css)
            if found:
                return found[0]
        return None

    def flash(self):
        """The text of the page's flash messages (`.flash`), joined."""
        return " | ".join(e.text.strip() for e in self.find(".flash") if e.text.strip())

    def error_flash(self):
        return " | ".join(e.text.strip() for e in self.find(".flash.error, [role=alert]") if e.text.strip())

    def csrf(self):
        return self.driver.execute_script("return document.querySelector('meta[name=csrf-token]')?.content || ''")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def page_source(self):
        return self.driver.page_source

    # ------------------------------------------------------------ forms

    def forms(self, action=None, method="post"):
        """Forms whose method is `method` and whose action matches the regular expression `action`."""
        found = []
        for form in self.find("form"):
            if (form.get_attribute("method") or "get").lower() != method:
                continue
            target = form.get_attribute("action") or ""
            if action is None or re.search(action, re.sub(r"^https?://[^/]+", "", target)):
                found.append(form)
        return found

    def form(self, action, method="post"):
        found = self.forms(action, method)
        if not found:
            actions = [re.sub(r"^https?://[^/]+", "", f.get_attribute("action") or "") for f in self.find("form")]
            raise JourneyFailure(f"no {method.upper()} form with an action matching {action!r} on {self.path} (forms: {actions})")
        return found[0]

    def fill(self, form, fields):
        """Sets each named field of `form`: text inputs and textareas are typed into, selects are
        chosen by value or visible text, checkboxes and radios are clicked to the wanted state."""
        for name, value in fields.items():
            elements = form.find_elements(By.CSS_SELECTOR, f'[name="{name}"]')
            if not elements:
                raise JourneyFailure(f"the form {form.get_attribute('action')} on {self.path} has no field {name!r}")
            element = elements[0]
            kind = (element.get_attribute("type") or "").lower()
            tag = element.tag_name.lower()
            if tag == "select":
                self.js("""const [s, v] = arguments; const o = [...s.options].find(o => o.value === v || o.text.trim() === v);
                           if (!o) throw new Error('no option ' + v); s.value = o.value; s.dispatchEvent(new Event('change', {bubbles: true}));""",
                        element, value)
            elif kind in ("checkbox", "radio"):
                if kind == "radio":
                    element = next((e for e in elements if e.get_attribute("value") == value), None)
                    if element is None:
                        raise JourneyFailure(f"no radio {name}={value} on {self.path}")
                    if not element.is_selected():
                        self.js("arguments[0].click()", element)
                elif bool(value) != element.is_selected():
                    self.js("arguments[0].click()", element)
            elif kind == "hidden" or not element.is_displayed():
                self.js("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
                        element, value)
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, form, button_text=None):
        """Clicks the form's submit button (the one whose text contains `button_text`, if given),
        then waits for the next page."""
        buttons = [b for b in form.find_elements(By.CSS_SELECTOR, "button, input[type=submit]")
                   if (b.get_attribute("type") or "submit").lower() == "submit"]
        if button_text:
            buttons = [b for b in buttons if button_text.lower() in (b.text or b.get_attribute("value") or "").lower()]
        if not buttons:
            raise JourneyFailure(f"no submit button{' ' + repr(button_text) if button_text else ''} in form "
                                 f"{form.get_attribute('action')} on {self.path}")
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.js("arguments[0].click()", buttons[0])
        # Confirmation dialogs (`confirm()`) are accepted: the journeys mean to do what they ask.
        self.accept_alerts()
        try:
            WebDriverWait(self.driver, 60).until(lambda d: self.stale(old))
        except TimeoutException:
            raise JourneyFailure(f"submitting {form.get_attribute('action') if self.alive(form) else 'a form'} on {self.path} "
                                 "did not load a new page within 60 s")
        self.ready()
        self.assert_no_injection(self.path)

    def accept_alerts(self):
        try:
            WebDriverWait(self.driver, 0.5, ignored_exceptions=(NoAlertPresentException,)).until(
                lambda d: d.switch_to.alert).accept()
        except (TimeoutException, NoAlertPresentException):
            pass

    @staticmethod
    def stale(element):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    @staticmethod
    def alive(element):
        return not Browser.stale(element)

    def post_form(self, action, fields, button_text=None):
        form = self.form(action)
        self.fill(form, fields)
        self.submit(form, button_text)

    def forged_post(self, path, fields, token=True):
        """POSTs `fields` (plus this page's CSRF token, unless `token` is False) with fetch, as a
        script on the page could; returns (status, redirected, final path, body)."""
        return self.driver.execute_async_script("""
            const [path, fields, token, done] = arguments;
            const body = new URLSearchParams(fields);
            if (token) body.set('_csrf', document.querySelector('meta[name=csrf-token]')?.content || '');
            fetch(path, {method: 'POST', credentials: 'same-origin', body,
                         headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
              .then(async r => done([r.status, r.redirected, new URL(r.url).pathname + new URL(r.url).search, await r.text()]))
              .catch(e => done([0, false, '', String(e)]));""", path, fields, token)

    def fetch(self, path):
        """GETs `path` with fetch from the current page; returns (status, body)."""
        return self.driver.execute_async_script("""
            const [path, done] = arguments;
            fetch(path, {credentials: 'same-origin'}).then(async r => done([r.status, await r.text()]))
              .catch(e => done([0, String(e)]));""", path)

    # ------------------------------------------------------------ checks on every page

    def assert_no_injection(self, where):
        """Data seeded with `<script>window.__xss=1</script>` and `<img onerror>` must never run."""
        value = self.js("return typeof window.__xss === 'undefined' ? null : String(window.__xss)")
        if value is not None:
            raise JourneyFailure(f"injected markup ran on {where} (window.__xss = {value})")

    def set_theme(self, theme):
        self.driver.delete_cookie("branch_theme")
        self.driver.add_cookie({"name": "branch_theme", "value": theme, "path": "/"})

    def theme(self):
        return self.js("return document.documentElement.dataset.theme")

    def axe(self, page, theme, colours_only=False):
        """Runs axe-core on the current page; records serious and critical violations.
        `colours_only`: only the rules a theme can change (contrast), for a page already checked whole."""
        axe = Axe(self.driver, self.axe_script) if self.axe_script else Axe(self.driver)
        try:
            axe.inject()
            results = axe.run(options=COLOUR_RULES if colours_only else None)
        except (JavascriptException, WebDriverException) as error:
            self.violations.append((page, theme, "axe-did-not-run", "critical", str(error)[:200], []))
            return
        failing = [v for v in results.get("violations", []) if v.get("impact") in FAILING_IMPACTS]
        for violation in failing:
            targets = [", ".join(map(str, node.get("target", []))) + " (" + " ".join(
                (node.get("failureSummary") or "").split())[:160] + ")" for node in violation.get("nodes", [])]
            self.violations.append((page, theme, violation["id"], violation["impact"], violation["help"], targets))
            print(f"a11y {page} ({theme}): {violation['impact']} {violation['id']}: {violation['help']} — "
                  f"{len(targets)} element(s): {'; '.join(targets[:6])}", flush=True)
        if not failing:
            print(f"ok   axe finds no serious or critical violation on {page} ({theme})", flush=True)

    def screenshot(self, name):
        if not self.screenshots:
            return
        os.makedirs(self.screenshots, exist_ok=True)
        # The page's full height would make huge files: the first screen is what a reader sees.
        self.driver.save_screenshot(os.path.join(self.screenshots, f"{name}.png"))

    def audit(self, page, path, themes=("dark", "light"), themed=True):
        """Visits `path` in each theme: no injected markup ran, axe passes, a screenshot when asked.
        Leaves the dark theme set. `themed` False: a page outside the shell (sign-in) is always dark."""
        for index, theme in enumerate(themes):
            self.set_theme(theme)
            self.get(path)
            if themed and self.theme() != theme:
                raise JourneyFailure(f"{path} rendered the {self.theme()} theme with the {theme} cookie")
            time.sleep(0.2)  # page scripts (charts, hovers) settle
            self.axe(page, theme, colours_only=index > 0)
            self.screenshot(f"{page}-{theme}")
        self.set_theme("dark")
        self.audited.add(page)
