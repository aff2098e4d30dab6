"""The console's browser tests: a real `silt run` (with and without API keys), filled through
the HTTP API, and Debian's chromium driven by Playwright. Screenshots of every page go to
$SILT_CONSOLE_SCREENSHOTS (default tests/console/screenshots/)."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import httpx
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT = os.path.join(os.path.dirname(HERE), "compat")
sys.path.insert(0, COMPAT)

from common import silt_binary  # noqa: E402  (found through the path set just above)


def _embedded_server_class():
    # The compat suite's harness starts `silt run`; loaded under another name so that this
    # directory's conftest stays the one pytest knows.
    spec = importlib.util.spec_from_file_location("compat_conftest", os.path.join(COMPAT, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EmbeddedServer


EmbeddedServer = _embedded_server_class()

SCREENSHOTS = os.environ.get("SILT_CONSOLE_SCREENSHOTS", os.path.join(HERE, "screenshots"))
CHROMIUM = os.environ.get("SILT_CHROMIUM", "/usr/bin/chromium")
TENANT = "acme"
DATABASE = "default_database"
DIM = 8
RECORDS = 45
XSS_DOCUMENT = '<img src=x onerror="window.__xss = 1">'
XSS_METADATA = "<script>window.__xss = 2</script>"


def pytest_report_header(config):
    return f"console screenshots: {SCREENSHOTS}"


def admin(server, *args):
    out = subprocess.run([silt_binary(), "admin", *server.admin_args(), *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


class Dataset:
    """One collection filled through HTTP: `records` r-00..r-44 with known documents, metadata
    (kind even/odd, group i % 3, n i) and seeded random embeddings, plus one record `xss`
    whose document and metadata are markup."""

    def __init__(self, server, tenant, key):
        self.server = server
        self.tenant = tenant
        self.key = key
        headers = {"x-chroma-token": key} if key else {}
        self.http = httpx.Client(base_url=f"{server.url}/api/v2/tenants/{tenant}/databases/{DATABASE}",
                                 headers=headers, timeout=30)
        created = self.http.post("/collections", json={"name": "console-demo", "metadata": {"purpose": "console test"}})
        created.raise_for_status()
        self.collection = created.json()
        self.id = self.collection["id"]
        rng = np.random.default_rng(7)
        self.ids = [f"r-{i:02d}" for i in range(RECORDS)] + ["xss"]
        self.embeddings = rng.normal(size=(len(self.ids), DIM)).round(4).tolist()
        self.documents = [f"Record number {i}: a plain sentence about item {i}." for i in range(RECORDS)] + [XSS_DOCUMENT]
        self.metadatas = [{"kind": "even" if i % 2 == 0 else "odd", "group": i % 3, "n": i} for i in range(RECORDS)]
        self.metadatas.append({"kind": XSS_METADATA, "group": 9, "n": -1})
        added = self.http.post(f"/collections/{self.id}/add", json={
            "ids": self.ids, "embeddings": self.embeddings, "documents": self.documents, "metadatas": self.metadatas})
        added.raise_for_status()

    def get(self, **body):
        r = self.http.post(f"/collections/{self.id}/get", json=body)
        r.raise_for_status()
        return r.json()

    def matching(self, predicate):
        return {i for i, m in zip(self.ids, self.metadatas) if predicate(m)}


@pytest.fixture(scope="session")
def screenshots():
    os.makedirs(SCREENSHOTS, exist_ok=True)
    print(f"\nconsole screenshots: {SCREENSHOTS}")
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def auth_server():
    with tempfile.TemporaryDirectory() as d:
        s = EmbeddedServer(d, allow_reset=False, extra=["--auth", "--catalog-cache-ms", "0"]).start()
        try:
            admin(s, "create-tenant", TENANT)
            s.key = admin(s, "create-key", "--tenant", TENANT, "--label", "console")["key"]
            s.data = Dataset(s, TENANT, s.key)
            yield s
        finally:
            s.stop()


@pytest.fixture(scope="module")
def open_server():
    with tempfile.TemporaryDirectory() as d:
        s = EmbeddedServer(d, allow_reset=False).start()
        try:
            s.data = Dataset(s, "default_tenant", None)
            yield s
        finally:
            s.stop()


class Page:
    """A browser tab at 1280×800 that records script errors and CSP violations: a test fails
    if the page logged any."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors = []
        self.dialogs = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        # Refused API calls (a wrong key, a bad filter) are logged by the browser as failed
        # loads; the tests check those answers themselves. Anything else is a fault.
        self.page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                     and self.errors.append(f"console: {m.text}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))


@pytest.fixture
def tab(browser):
    t = Page(browser)
    yield t
    t.context.close()
