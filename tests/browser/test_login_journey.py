"""A member of staff logs in for the first time in a real browser: password, QR enrolment, home, language, logout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from opennrm.accounts import totp
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, member
from tests.browser.phone import fits_the_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PASSWORD = "correct horse battery staple"
GEORGIAN = re.compile(r"[\u10a0-\u10ff\u1c90-\u1cbf\u2d00-\u2d2f]")


def watch(page) -> list[str]:
    """Collect what the browser complains about: failed loads, script errors, Content-Security-Policy refusals."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    return problems


def test_first_login_enrolment_language_and_logout(browser, live_server):
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = member(Role.CASE_WORKER, agency=agency, user__first_name="Tamar", user__last_name="Gelashvili")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems = watch(page)

    # Opening the site leads to the login page.
    page.goto(live_server.url + "/")
    assert page.url.startswith(live_server.url + "/accounts/login/")
    assert problems == [], "the login page loads its stylesheet and scripts"
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    # First login: the QR code and the key to type by hand.
    page.wait_for_url("**/accounts/2fa/enrol/")
    assert page.locator("figure.qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    page.screenshot(path=str(SCREENSHOTS / "enrolment.png"), full_page=True)
    page.get_by_label("Six-digit code from your authenticator app").fill(totp.code_for(secret))
    page.get_by_role("button", name="Confirm and log in").click()

    # Home: their name, their agency and their role.
    page.wait_for_url(live_server.url + "/")
    main = page.locator("main")
    assert "Welcome, Tamar Gelashvili" in main.inner_text()
    assert "Tbilisi Crisis Centre" in main.inner_text()
    assert "Case worker" in main.inner_text()
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)

    # Georgian with the language switcher (choosing submits the form).
    page.locator("#language-select").select_option("ka")  # app.js submits the form at once
    try:
        page.wait_for_selector('html[lang="ka"]', timeout=5000)
    except PlaywrightTimeout:
        problems.append("choosing a language did not switch it (app.js not running?)")
        page.get_by_role("button", name="Change").click()  # the no-script way
        page.wait_for_selector('html[lang="ka"]', timeout=10000)
    assert page.url == live_server.url + "/"
    page.screenshot(path=str(SCREENSHOTS / "home-ka.png"), full_page=True)
    main_text = page.locator("main").inner_text()
    assert "Tbilisi Crisis Centre" in main_text
    assert GEORGIAN.search(page.locator("main h1").inner_text()), "the page heading is in Georgian"
    assert GEORGIAN.search(main_text), "the page is in Georgian"

    # Log out (the button is in Georgian now: find it by its form).
    page.locator('form[action="/accounts/logout/"] button').click()
    page.wait_for_url("**/accounts/login/")
    page.goto(live_server.url + "/accounts/profile/")
    assert page.url.startswith(live_server.url + "/accounts/login/")

    assert problems == []
    context.close()


def test_the_login_page_fits_a_phone_and_works_with_the_keyboard(browser, live_server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    problems = watch(page)
    page.goto(live_server.url + "/accounts/login/")
    assert problems == [], "the login page loads its stylesheet and scripts"

    fits_the_phone(page)
    width = 390  # the phone's screen
    form = page.locator("main form").bounding_box()
    assert form is not None
    assert form["x"] >= 0 and form["x"] + form["width"] <= width
    for name in ("User name", "Password"):
        box = page.get_by_label(name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    button = page.get_by_role("button", name="Continue").bounding_box()
    assert button is not None and button["x"] + button["width"] <= width and button["height"] >= 44

    # Tab from the top of the page reaches the fields and the button, each with a visible focus ring.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    wanted = {"id_username", "id_password", "continue"}
    reached: set[str] = set()
    for _ in range(25):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                const style = getComputedStyle(el);
                const name = el.id || (el.type === 'submit' && el.closest('main') ? 'continue' : el.tagName);
                return {name, outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
                        shadow: style.boxShadow};
            }"""
        )
        if focused["name"] in wanted:
            visible = (focused["outline"] != "none" and focused["width"] > 0) or focused["shadow"] != "none"
            assert visible, f"{focused['name']} has no visible focus"
            reached.add(focused["name"])
            page.screenshot(path=str(SCREENSHOTS / f"login-phone-focus-{focused['name']}.png"))
        if reached == wanted:
            break
    assert reached == wanted
    page.screenshot(path=str(SCREENSHOTS / "login-phone.png"), full_page=True)
    assert problems == []
    context.close()
