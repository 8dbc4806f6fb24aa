"""The console in headless Chromium: an alert appears live, is acknowledged, changes state.

Needs the Debian packages `chromium` and `chromium-driver` (.ci/run installs them); when
they are missing the test fails saying so rather than skipping.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fraud_warning.desk.connection import connect
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.service import Desk

from .conftest import SHARED_REDIS, make_alert, north
from .server import TOKENS, Server, write_units

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    for path, package in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if shutil.which(path) is None:
            pytest.fail(f"{path} not found: apt-get install -y {package}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Desk]]:
    client = connect(SHARED_REDIS)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {SHARED_REDIS} is not answering ({exc})")
    prefix = f"fwtest-ui-{uuid.uuid4().hex[:10]}"
    lat, lon = north(600)
    server = Server(
        prefix,
        write_units(tmp_path / "units.csv", [("U7", "Jinniu PS 1", lat, lon)]),
        tmp_path / "serve.log",
    )
    try:
        yield server, Desk(client, keys=Keys(prefix))
    finally:
        server.stop()
        stale = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if stale:
            client.delete(*stale)
        client.close()


def test_alert_appears_live_and_is_acknowledged(
    browser: object, served: tuple[Server, Desk], tmp_path: Path
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    driver: WebDriver = browser  # type: ignore[assignment]
    server, desk = served
    # rows re-render as live events arrive: an element read mid-render is just read again
    wait = WebDriverWait(
        driver, 20, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    )

    def text(css: str) -> str:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)

    driver.get(server.base + "/")
    driver.find_element(By.ID, "token").send_keys(TOKENS["desk"])
    driver.find_element(By.ID, "connect").click()
    wait.until(lambda d: d.find_element(By.ID, "conn-status").text == "live")
    assert driver.find_element(By.ID, "unmask-box").is_displayed()  # desk may unmask

    desk.ingest(make_alert("A-live", priority="P1", subscriber="+8613812345678"))
    live_row = '#alerts tr[data-id="A-live"]'
    wait.until(lambda d: "+86*********78" in text(live_row) and "P1" in text(live_row))
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#tasks tr[data-id="T-A-live"]'))
    wait.until(lambda d: text(live_row + " .state") == "open")

    driver.find_element(By.CSS_SELECTOR, live_row).click()
    wait.until(lambda d: "a long call" in d.find_element(By.ID, "reasons").text)
    driver.find_element(By.CSS_SELECTOR, 'button[data-action="ack"]').click()
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, '#alerts tr[data-id="A-live"] .state').text
            == "acknowledged"
        )
    )
    assert desk.store.require("A-live").state == "acknowledged"
    wait.until(lambda d: "ack by desk#1" in d.find_element(By.ID, "timeline").text)
    # a second alert arriving live lands below the P1; the first row is the same node
    first_row = driver.find_element(By.CSS_SELECTOR, live_row)
    desk.ingest(make_alert("A-next", priority="P3", subscriber="+8613800000099"))
    rows = "#alerts tbody tr"
    wait.until(
        lambda d: (
            [r.get_attribute("data-id") for r in d.find_elements(By.CSS_SELECTOR, rows)]
            == ["A-live", "A-next"]
        )
    )
    assert first_row.get_attribute("data-id") == "A-live"  # not stale: updated in place
    driver.save_screenshot(str(tmp_path / "console.png"))
