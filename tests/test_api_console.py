"""The web console in a real browser: Debian's chromium, headless, driven
by Selenium through Debian's chromedriver (nothing is downloaded).

The API runs on the test's reactor (api.process: reactor, memory store)
on a real socket; the browser runs in its own process, so the reactor
must turn while it works: every browser step runs in a thread
(deferToThread) and the test waits for it.
"""

import os
import threading
import time

from twisted.internet import defer, reactor, threads
from twisted.trial import unittest

from pyhss.api.service import bind, serve
from pyhss.config import Config
from tests.api_helpers import K_HEX, OPC_HEX, InMemoryApi

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IMSI = "001010000000001"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None


def _descendants(pid):
    """Every process below ``pid`` (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), ()):
            found.append(child)
            queue.append(child)
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _missing():
    if webdriver is None:
        return "selenium is not installed (setup.cfg test extra)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is missing: scripts/bootstrap.sh install test installs Debian's chromium and chromium-driver"
    return None


class ConsoleInBrowserTests(unittest.TestCase):

    timeout = 120
    if _missing():
        skip = _missing()

    def setUp(self):
        self.api = InMemoryApi(self)
        self.api.site.reactor = reactor
        config = Config.default(api={"listen": "tcp:0:interface=127.0.0.1", "process": "reactor"})
        self.socket = bind(config.api.listen)
        self.addCleanup(self.socket.close)
        self.port = serve(reactor, self.socket, self.api.site, config.api)
        self.addCleanup(self.port.stopListening)
        self.base = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.token = self.api.token_file.add("console-test")
        self.api.authenticator.reload()
        # A fresh profile in trial's own directory: Chromium may still be
        # writing it for a moment after quit(), and trial removes it later.
        self.profile = os.path.abspath(self.mktemp())
        os.makedirs(self.profile)
        self.browser = None

    def tearDown(self):
        if self.browser is not None:
            return threads.deferToThread(self.quit_browser)

    def quit_browser(self):
        """quit(), then wait (bounded) until every Chromium process is gone."""
        processes = _descendants(self.browser.service.process.pid)
        self.browser.quit()
        deadline = time.monotonic() + 10
        while processes and time.monotonic() < deadline:
            processes = [pid for pid in processes if _alive(pid)]
            if processes:
                threading.Event().wait(0.05)
        if processes:
            raise AssertionError(f"Chromium processes still running after quit: {processes}")

    def start_browser(self):
        os.environ["SE_OFFLINE"] = "true"   # Selenium Manager never fetches a browser or driver
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run",
                         "--disable-dev-shm-usage", f"--user-data-dir={self.profile}"):
            options.add_argument(argument)
        service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.browser = webdriver.Chrome(service=service, options=options)
        self.browser.set_page_load_timeout(30)

    def wait(self, condition, timeout=20):
        try:
            return WebDriverWait(self.browser, timeout).until(condition)
        except Exception:
            # What the browser showed and said, for the failure's message.
            raise AssertionError(f"browser at {self.browser.current_url}: {self.browser.get_log('browser')!r}\n"
                                 f"{self.browser.page_source[:4000]}") from None

    def text_of(self, selector):
        return self.wait(lambda b: b.find_element(By.CSS_SELECTOR, selector).text or False)

    def browse(self):
        """The whole walk, in the browser's thread."""
        b = self.browser
        b.get(self.base + "/console/subscribers")
        # The API needs the token: entered once, kept for the session.
        b.find_element(By.ID, "token").send_keys(self.token)
        b.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
        self.wait(lambda b: b.find_element(By.ID, "token-state").text == "API token set")
        query = self.wait(expected_conditions.presence_of_element_located((By.ID, "query")))
        query.send_keys("15551230001")
        b.find_element(By.CSS_SELECTOR, "#search button").click()
        self.wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#results tbody a"))
        b.find_element(By.CSS_SELECTOR, "#results tbody a").click()
        self.wait(lambda b: b.find_element(By.ID, "f-msisdn").get_attribute("value") == "15551230001")
        apns = b.find_element(By.ID, "f-apns").get_attribute("value")
        # A bad value: the API's problem shown next to that field, nothing stored.
        msisdn = b.find_element(By.ID, "f-msisdn")
        msisdn.clear()
        msisdn.send_keys("12ab")
        b.find_element(By.ID, "save").click()
        error = self.text_of('.error[data-for="msisdn"]')
        invalid = msisdn.get_attribute("aria-invalid")
        # The edit that is accepted.
        msisdn.clear()
        msisdn.send_keys("4915112345678")
        ambr = b.find_element(By.ID, "f-ue_ambr_dl")
        ambr.clear()
        ambr.send_keys("2000000")
        b.find_element(By.ID, "save").click()
        notice = self.wait(lambda b: b.find_element(By.ID, "notice").text.startswith("Saved")
                           and b.find_element(By.ID, "notice").text)
        cleared = b.find_element(By.CSS_SELECTOR, '.error[data-for="msisdn"]').text
        keys = b.find_element(By.ID, "f-k").get_attribute("value")
        page = b.page_source
        # A read-only list page (EIR rules), filled from the API with the token kept.
        b.get(self.base + "/console/eir_rules")
        rule_row = self.text_of("#record-list tbody tr")
        b.get(self.base + "/")
        self.wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#rates tbody tr") or
                  "connections by state" in b.find_element(By.ID, "peer-states").text)
        return {"apns": apns, "error": error, "invalid": invalid, "notice": notice, "cleared": cleared,
                "keys": keys, "page": page, "rule_row": rule_row}

    @defer.inlineCallbacks
    def test_search_edit_and_see_errors_next_to_the_field(self):
        self.assertEqual(self.api.request("POST", "/apns", {"name": "internet"}, token=self.token).status, 201)
        created = self.api.request("POST", "/subscribers", {
            "imsi": IMSI, "k": K_HEX, "opc": OPC_HEX, "apns": ["internet"], "msisdn": "15551230001"},
            token=self.token)
        self.assertEqual(created.status, 201)
        self.assertEqual(self.api.request("POST", "/eir/rules", {"key": "49015420323751", "status": "blacklisted",
                                                                 "note": "stolen"}, token=self.token).status, 201)
        yield threads.deferToThread(self.start_browser)
        seen = yield threads.deferToThread(self.browse)
        self.assertEqual(seen["apns"], "internet")
        self.assertEqual(seen["error"], "must be 1-15 digits, got '12ab'")
        self.assertEqual(seen["invalid"], "true")
        self.assertEqual(seen["cleared"], "")
        self.assertIn("no IDR sent: no serving MME registered", seen["notice"])
        self.assertEqual(seen["keys"], "")
        self.assertTrue(seen["rule_row"].startswith("49015420323751 blacklisted - stolen"), seen["rule_row"])
        for secret in (K_HEX, OPC_HEX):
            self.assertNotIn(secret, seen["page"].upper())
        stored = self.successResultOf(self.api.store.get_subscriber(IMSI))
        self.assertEqual((stored.msisdn, stored.ue_ambr_dl), ("4915112345678", 2000000))
