"""The status page in a real browser (Debian's chromium, driven by Selenium): sign in with a
token, see the project's parties, uploads and the completed run's quality figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as Driver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import CUSTODIANS

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are not installed (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Driver(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def sign_in(browser, url: str, token: str) -> None:
    """Sign in, and wait until the form's page has gone (a click does not wait for it)."""
    browser.get(url)
    browser.find_element(By.ID, "token").send_keys(token)
    button = browser.find_element(By.ID, "signin")
    button.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(button))


@pytest.mark.parametrize("chain", ["sqlite"], indirect=True)
def test_the_status_page_shows_the_project_to_a_signed_in_party(chain, browser, tmp_path):
    server = chain["server"]
    sign_in(browser, server.url, "a-guess")
    assert browser.find_element(By.ID, "problem").text == "this token is not valid here"
    sign_in(browser, server.url, chain["tokens"]["trust_north"])
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Signed in as trust_north (custodian)" in text
    for party in CUSTODIANS:
        assert f"{party} custodian {party}.pkg package" in text
    assert "analyst analyst nothing yet" in text
    run = browser.find_element(By.ID, "run-1").text
    persons = chain["run"]["quality"]["persons"]
    assert "Run 1" in run and "completed" in run and f"{persons:,} persons" in run
    screenshot = tmp_path / "service-status.png"
    browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copyfile(screenshot, chain["folder"] / "service-status.png")
    report = browser.find_element(By.LINK_TEXT, "Quality report")
    report.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(report))
    assert "quality" in browser.title.lower()
    browser.back()
    signout = browser.find_element(By.ID, "signout")
    signout.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(signout))
    assert browser.find_element(By.ID, "token")  # signed out: the form again
