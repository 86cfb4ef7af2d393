"""The web page of `facecam serve` in a real browser: Debian's chromium through chromium-driver,
fed a fake camera made from the Hamilton clip, against a real server with a token, the clip as
its live source and a history of it with unknown faces. Screenshots of every page at phone and
desktop widths go to out/screenshots/web-*.png."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from helpers import (AUTH, CLIP, LIN, TOKEN, assert_one_line_error, camera_file, chromium, facecam, start_server, stop,
                     wait_until)

SHOTS = Path(__file__).resolve().parents[1] / "out" / "screenshots"
PHONE, DESKTOP = (360, 780), (1280, 900)


class Site:
    """The server under test, which a test may stop and start again on the same port."""

    CLIP_FRAMES = 275

    def __init__(self, tmp: Path, registry: Path, clip: Path):
        self.tmp, self.registry, self.clip = tmp, registry, clip
        self.proc, self.url = start_server(tmp, "--registry", registry, "--source", clip, "--loop")
        self.port = int(self.url.rsplit(":", 1)[1])
        # its first pass stores the clip's sightings again, one by one as they end (the replays that
        # follow store nobody already stored, and no unknown face): the tests count and group the
        # sightings, so they start once that pass has ended and what it saw is stored
        wait_until(self.first_pass_stored, 180, "the clip's first pass stored", every=0.5)

    def first_pass_stored(self) -> bool:
        if httpx.get(f"{self.url}/health").json()["source"]["frames"] <= self.CLIP_FRAMES:
            return False
        rows = httpx.get(f"{self.url}/sightings", params={"limit": 1000}, headers=AUTH).json()["sightings"]
        return all(r["closed"] for r in rows)

    def stop(self):
        stop(self.proc)

    def start(self):
        self.proc, _ = start_server(self.tmp, "--registry", self.registry, "--source", self.clip, "--loop", port=self.port)


@pytest.fixture(scope="module")
def site(seen, data, tmp_path_factory):
    """Alex Lacamoire enrolled (Lin-Manuel Miranda is enrolled from the browser's camera by a
    test), the clip's history with its unknown faces."""
    tmp = tmp_path_factory.mktemp("web")
    registry = tmp / "registry"
    shutil.copytree(seen, registry)
    assert facecam("delete", LIN, "--yes", "--registry", registry).returncode == 0
    server = Site(tmp, registry, data / CLIP)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def camera(data, tmp_path_factory) -> Path:
    return camera_file(data, tmp_path_factory.mktemp("camera") / "lin.y4m")


@pytest.fixture(scope="module")
def page(camera):
    """Chromium with a fake camera playing the clip; the camera is allowed without asking."""
    driver = chromium(camera, size=DESKTOP)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=60, what="the page"):
    """Poll condition(driver) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition(driver)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not there after {timeout} s; the page says: "
                                 f"{driver.find_element('tag name', 'body').text[:2000]}")
        time.sleep(0.2)


def text(driver, element_id: str) -> str:
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                                 element_id)


def visible(driver, element_id: str) -> bool:
    return driver.execute_script("const e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null;",
                                 element_id)


def by_id(driver, element_id):
    return driver.find_element("id", element_id)


def go(driver, site, view: str):
    driver.get(f"{site.url}/#{view}")
    wait(driver, lambda d: visible(d, f"view-{view}"), what=f"the {view} view")


def shoot(driver, name: str):
    """Screenshots of what is shown now at the phone's and the desktop's width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in (PHONE, DESKTOP):
        driver.set_window_size(width, height)
        wait(driver, lambda d: d.execute_script("return window.innerWidth") == width, timeout=10, what="the resize")  # noqa: B023
        # nothing may stick out sideways on a phone (measured once the layout has settled)
        deadline = time.monotonic() + 5
        while (overflow := driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")) and time.monotonic() < deadline:
            time.sleep(0.2)
        wide = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >"
            " document.documentElement.clientWidth + 0.5).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + "
                "Math.round(e.getBoundingClientRect().right))")
        assert overflow == 0, f"{name} at {width} px is {overflow} px too wide: {wide}"
        driver.save_screenshot(str(SHOTS / f"web-{name}-{width}.png"))
    driver.set_window_size(*DESKTOP)


def no_alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def registry_people(site) -> dict:
    from facecam.registry import Registry

    return {p["name"]: p for p in Registry.open(site.registry).people()}


def test_login_wrong_token_then_the_cookie(site, page):
    page.get(site.url)
    wait(page, lambda d: visible(d, "view-login"), what="the login form")
    assert not visible(page, "view-live")  # nothing personal before logging in
    by_id(page, "login-token").send_keys("not the token")
    by_id(page, "login-form").submit()
    wait(page, lambda d: text(d, "login-message") == "Wrong token: try again.", what="the wrong token message")
    assert page.get_cookies() == []
    shoot(page, "login")
    field = by_id(page, "login-token")
    field.clear()
    field.send_keys(TOKEN)
    by_id(page, "login-form").submit()
    wait(page, lambda d: visible(d, "view-live"), what="the live view after logging in")
    [cookie] = page.get_cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("facecam_session", True, "Strict")
    assert TOKEN not in page.current_url and TOKEN not in cookie["value"]
    assert page.execute_script("return document.cookie") == ""  # the page's scripts cannot read it
    # the page's security headers
    headers = httpx.get(site.url).headers
    assert "script-src 'self';" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")


def people_cards(driver) -> list[tuple[str, str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#people .card')].map(c => [c.querySelector('.name').textContent,"
        " c.querySelector('.facts').textContent]);")


def test_people_list(site, page):
    go(page, site, "people")
    alex = registry_people(site)["Alex Lacamoire"]
    cards = wait(page, people_cards, what="the people cards")
    assert [name for name, _ in cards] == ["Alex Lacamoire"]
    assert httpx.get(f"{site.url}/identities", headers=AUTH).json()[0]["sightings"] == 0  # not in the clip
    assert cards[0][1] == f"{alex['samples']} sample · not seen yet" and alex["samples"] == 1
    # on a phone the header is one row: the pages are behind a menu that says where one is
    page.set_window_size(*PHONE)
    wait(page, lambda d: d.execute_script("return window.innerWidth") == PHONE[0], timeout=10, what="the resize")
    header = lambda d: d.execute_script(  # noqa: E731
        "const h = document.querySelector('header').getBoundingClientRect(); const m = document.getElementById('menu');"
        " return [h.height, m.textContent, m.getAttribute('aria-expanded'), document.getElementById('pages').offsetParent !== null]")
    height, label, expanded, links = header(page)
    assert height < 60 and (label, expanded, links) == ("☰ People", "false", False), header(page)
    by_id(page, "menu").click()
    assert header(page)[2:] == ["true", True]
    assert visible(page, "logout")  # logging out is in the menu too
    page.find_element("css selector", "nav a[data-view='unknowns']").click()
    wait(page, lambda d: visible(d, "view-unknowns"), what="the unknown faces from the menu")
    height, *rest = header(page)
    assert height < 60 and rest == ["☰ Unknown faces", "false", False], header(page)  # the longest page name
    page.set_window_size(*DESKTOP)
    assert not visible(page, "menu")
    # his face thumbnail is a real picture
    assert wait(page, lambda d: d.execute_script("return document.querySelector('#people .face').naturalWidth"),
                what="the thumbnail") > 0


def test_enrol_from_the_browsers_camera(site, page):
    go(page, site, "enrol")
    by_id(page, "enrol-name").send_keys(LIN)
    by_id(page, "enrol-start").click()

    def samples(d):
        s = text(d, "enrol-status")
        return int(s.split()[0]) if s and re.match(r"\d+ sample", s) else 0

    wait(page, lambda d: samples(d) >= 4, timeout=120, what="four directions captured")
    assert text(page, "enrol-message") == ""
    # each sample kept is shown with its face and its quality in words; a click drops it
    thumbs = lambda d: d.execute_script(  # noqa: E731
        "return [...document.querySelectorAll('#enrol-samples button')].map(b => [b.querySelector('span').textContent,"
        " b.getAttribute('aria-label'), b.querySelector('img').naturalWidth])")
    shown = wait(page, lambda d: (t := thumbs(d)) and all(w == 224 for _, _, w in t) and t, what="the sample faces")
    assert all(re.fullmatch(rf"Drop the {d} sample \((very good|good|fair|weak): (sharp|soft|blurred), \d+ px, (clear|unclear)\) "
                            r"to take it again", label) for d, label, _ in shown), shown
    shoot(page, "enrol")
    direction = shown[0][0]
    # every hint shown from now on is kept: the page holds one for 1.2 s, which a slow poll can miss
    page.execute_script("const hint = document.getElementById('enrol-hint'); window.hintsShown = [];"
                        "new MutationObserver(() => window.hintsShown.push(hint.textContent))"
                        ".observe(hint, {childList: true, characterData: true, subtree: true});")
    # found and clicked in one step: the list is drawn again whenever another direction is taken
    page.execute_script("[...document.querySelectorAll('#enrol-samples button')]"
                        ".find(b => b.querySelector('span').textContent === arguments[0]).click()", direction)
    said = wait(page, lambda d: next((h for h in d.execute_script("return window.hintsShown") if h.startswith("Dropped")), None),
                what="the sample dropped")
    assert said.startswith(f"Dropped the {direction} sample: turn ")
    wait(page, lambda d: samples(d) >= 4, timeout=120, what="four directions captured again")
    assert "fewer directions are fine" in text(page, "enrol-status") or "every direction done" in text(page, "enrol-status")
    chart = page.execute_script("return [...document.querySelectorAll('#enrol-chart li.filled')].map(li => li.textContent)")
    assert len(chart) >= 4
    # saved on a phone: the result shows where the person looks, and the page is ready for the next
    page.set_window_size(*PHONE)
    by_id(page, "enrol-save").click()
    said = wait(page, lambda d: (s := text(d, "enrol-hint")).startswith("Saved") and s, what="the saved message")
    where = page.execute_script("const r = document.getElementById('enrol-hint').getBoundingClientRect(); return [r.top, r.bottom, innerHeight]")
    assert 0 <= where[0] and where[1] <= where[2], where
    page.set_window_size(*DESKTOP)
    person = registry_people(site)[LIN]
    count, poses, total = re.fullmatch(rf"Saved {LIN}: (\d+) samples \((.*)\), (\d+) in all\. Enter another name and start the "
                                       r"camera to enrol someone else\.", said).groups()
    assert (int(count), int(total), sorted(poses.split(", "))) == (person["samples"], person["samples"], sorted(person["poses"]))
    assert person["samples"] >= 4 and len(set(person["poses"])) == person["samples"]
    assert page.execute_script("return document.querySelectorAll('#enrol-chart li.filled, #enrol-samples li').length") == 0
    assert text(page, "enrol-status") == "" and by_id(page, "enrol-name").get_attribute("value") == ""
    # a hint changes only to one that comes twice in a row, and stays up 1.2 s: two states the face
    # hovers between do not make it flip
    shown = page.execute_script("hint('A', true); for (const t of ['B', 'A', 'B', 'A', 'B']) hint(t);"
                                " const first = $('enrol-hint').textContent; hint('B'); hint('B');"
                                " return [first, $('enrol-hint').textContent];")
    assert shown == ["A", "A"]
    time.sleep(1.3)
    assert page.execute_script("hint('B'); hint('B'); return $('enrol-hint').textContent;") == "B"
    from facecam.registry import Registry

    reg = Registry.open(site.registry)
    mine = [s for s in reg.samples if s["identity"] == reg.index_of(LIN)]
    assert {s["source"] for s in mine} == {"browser"} and all((site.registry / s["crop"]).is_file() for s in mine)
    # the camera was let go
    assert page.execute_script("return document.getElementById('enrol-video').srcObject") is None


def test_live_view_names_him(site, page):
    go(page, site, "live")
    wait(page, lambda d: LIN in text(d, "present"), timeout=120, what=f"{LIN} in 'Here now'")
    size = wait(page, lambda d: (s := d.execute_script("const i = document.querySelector('#streams img');"
                                                       " return [i.naturalWidth, i.naturalHeight]"))[0] and s, what="the first frame")
    assert size == [640, 360]  # the clip's frames, annotated
    # the box is sized before the first frame arrives: no layout shift; and it is as tall as its
    # picture and caption, not stretched to the sidebar's height
    box = page.execute_script("const b = document.querySelector('#streams .box').getBoundingClientRect(); return [b.width, b.height]")
    assert abs(box[0] * 9 / 16 - box[1]) < 2
    figure, caption = page.execute_script("return [document.querySelector('#streams figure').getBoundingClientRect().height,"
                                          " document.querySelector('#streams figcaption').getBoundingClientRect().height]")
    assert abs(figure - box[1] - caption) < 2, (figure, box, caption)
    # "Just seen": the same person on the same source again adds to the line
    lines = page.execute_script(
        "const list = document.getElementById('recent'); list.replaceChildren();"
        " for (const s of [['Ann', 'door'], ['Ann', 'door'], ['Bob', 'door'], ['Ann', 'door'], ['Ann', 'door'], ['Ann', 'door']])"
        "   recent({name: s[0], source: s[1], start: '2026-12-03T10:00:00Z'});"
        " return [...list.children].map(li => li.textContent.replace(/ · \\d.*?(?= ·|$)/, ''));")
    assert lines == ["Ann · door · 3 times", "Bob · door", "Ann · door · 2 times"], lines
    shoot(page, "live")


def test_history_and_attendance(site, page):
    # his sighting on the live view is stored once it ends (he leaves the clip)
    rows = wait(page, lambda d: (r := httpx.get(f"{site.url}/attendance", headers=AUTH).json()) and LIN in [x["name"] for x in r]
                and r, timeout=120, what=f"a stored sighting of {LIN}")
    go(page, site, "history")
    table = wait(page, lambda d: d.execute_script(
        "return [...document.querySelectorAll('#attendance tbody tr')].map(r => r.cells[0].textContent)") or None,
        what="the attendance table")
    assert table == [r["name"] for r in rows] and LIN in table
    import datetime

    day = datetime.date.today()
    listed = httpx.get(f"{site.url}/sightings", headers=AUTH, params={
        "limit": 50, "since": day.isoformat(), "until": (day + datetime.timedelta(days=1)).isoformat()}).json()
    shown = wait(page, lambda d: d.execute_script("return document.querySelectorAll('#sightings li').length"))
    assert shown == len(listed["sightings"])
    csv = page.execute_script("return fetch(document.getElementById('history-csv').href).then(r => r.text())")
    assert csv.splitlines()[0].startswith("name,") and len(csv.splitlines()) == len(rows) + 1
    shoot(page, "history")

    # "Not Lin-Manuel Miranda" on one of his ended sightings: it becomes unknown, his face a correction
    def his_ended(_):
        found = httpx.get(f"{site.url}/sightings", params={"name": LIN, "limit": 1000}, headers=AUTH).json()["sightings"]
        return [s["id"] for s in found if s["closed"]]

    before = wait(page, his_ended, timeout=120, what=f"an ended sighting of {LIN}")
    by_id(page, "history-form").submit()
    button = wait(page, lambda d: d.find_elements("xpath", f"//ul[@id='sightings']//button[text()='Not {LIN}']"),
                  what="the correction button")[0]
    button.click()
    wait(page, lambda d: d.execute_script("return document.getElementById('confirm').open"))
    assert text(page, "confirm-text").startswith(f"This face is not {LIN}?")
    by_id(page, "confirm-ok").click()
    wait(page, lambda d: len(his_ended(d)) == len(before) - 1, what="the sighting corrected")
    wait(page, lambda d: text(d, "history-status") == f"Done: this sighting is unknown now, and {LIN} is not given this face again.",
         what="what the correction did")
    assert registry_people(site)[LIN]["negatives"] == 1


NAME = "<script>alert('x')</script> Guest"


def test_name_an_unknown_group_with_a_script_name(site, page):
    go(page, site, "unknowns")
    groups = httpx.get(f"{site.url}/unknowns", headers=AUTH).json()
    shown = wait(page, lambda d: d.execute_script("return [...document.querySelectorAll('#unknowns > li h2')].map(h => h.textContent)") or None)
    assert shown == [f"Group {g['cluster']}" for g in groups]
    shoot(page, "unknowns")
    first = groups[0]
    field = page.find_element("css selector", "#unknowns > li input[placeholder='their name']")
    # "Forget" is apart from the enrol form and its checkbox
    assert page.execute_script("return [...document.querySelectorAll('#unknowns > li')].every(li =>"
                               " li.querySelector('form').contains(li.querySelector('input[type=checkbox]'))"
                               " && !li.querySelector('form').querySelector('.danger') && li.lastElementChild.className === 'forget')")
    field.send_keys(NAME)
    field.submit()
    wait(page, lambda d: d.execute_script("return [...document.querySelectorAll('#unknowns > li h2')].map(h => h.textContent)")
         == [f"Group {g['cluster']}" for g in groups[1:]], what="the named group gone")
    person = registry_people(site)[NAME]
    assert person["samples"] == first["sightings"]
    n = first["sightings"]
    assert text(page, "unknowns-status") == (f"Enrolled {NAME} from group {first['cluster']}: {n} sample{'s' * (n != 1)} ({n} in all);"
                                             f" the name is on {n} sighting{'s' * (n != 1)} now.")
    go(page, site, "people")
    cards = wait(page, lambda d: len(people_cards(d)) == 3 and people_cards(d))
    assert sorted(name for name, _ in cards) == sorted(["Alex Lacamoire", LIN, NAME])  # as text, not as markup
    assert page.execute_script("return document.querySelectorAll('#main script').length") == 0
    no_alert(page)
    shoot(page, "people")


def test_delete_a_person_with_confirmation(site, page):
    # the server plays the clip on, and a replay stores the sightings of someone enrolled since:
    # the page says the count as it loaded it, between the counts before and after
    count = lambda: len(httpx.get(f"{site.url}/sightings", params={"name": NAME, "limit": 1000}, headers=AUTH).json()["sightings"])  # noqa: E731
    before = count()
    go(page, site, "people")
    wait(page, lambda d: len(people_cards(d)) == 3)
    person = registry_people(site)[NAME]
    card = next(c for c in page.find_elements("css selector", "#people .card") if c.find_element("css selector", ".name").text == NAME)
    card.find_element("css selector", ".delete").click()
    wait(page, lambda d: d.execute_script("return document.getElementById('confirm').open"))
    samples = person["samples"]
    said = text(page, "confirm-text")
    assert said in [
        f"Delete {NAME}? This erases their {samples} sample{'s' * (samples != 1)} and face crops from the registry and their "
        f"{n} sighting{'s' * (n != 1)} with their faces from the history. It cannot be undone." for n in range(before, count() + 1)]
    by_id(page, "confirm-ok").click()
    wait(page, lambda d: sorted(n for n, _ in people_cards(d)) == sorted(["Alex Lacamoire", LIN]), what="the card gone")
    assert NAME not in registry_people(site)
    assert httpx.get(f"{site.url}/sightings", params={"name": NAME}, headers=AUTH).json()["sightings"] == []
    no_alert(page)


def test_the_camera_refused(site, camera):
    driver = chromium(camera, camera_allowed=False)
    try:
        driver.get(site.url)
        wait(driver, lambda d: visible(d, "view-login"))
        by_id(driver, "login-token").send_keys(TOKEN)
        by_id(driver, "login-form").submit()
        wait(driver, lambda d: visible(d, "view-live"))
        driver.execute_cdp_cmd("Browser.setPermission", {"permission": {"name": "camera"}, "setting": "denied",
                                                         "origin": site.url})
        go(driver, site, "enrol")
        by_id(driver, "enrol-name").send_keys("Someone")
        by_id(driver, "enrol-start").click()
        wait(driver, lambda d: text(d, "enrol-message").startswith("The browser refused the camera: allow camera access"),
             what="the refused camera message")
        assert not visible(driver, "enrol-video") or driver.execute_script("return document.getElementById('enrol-video').srcObject") is None
    finally:
        driver.quit()


def test_dropped_connection_mid_enrolment_then_the_server_restarted(site, page):
    go(page, site, "enrol")
    by_id(page, "enrol-name").clear()
    by_id(page, "enrol-name").send_keys("Half Done")
    by_id(page, "enrol-start").click()
    wait(page, lambda d: re.match(r"[1-9]\d* sample", text(d, "enrol-status")), timeout=120, what="a first sample")
    site.stop()
    try:
        wait(page, lambda d: text(d, "enrol-message") == "The connection to the server was lost: nothing was saved. "
                                                        "Start again once it is back.", what="the lost connection message")
        assert wait(page, lambda d: visible(d, "banner")) and text(page, "banner") == "Cannot reach the facecam server: retrying…"
        assert visible(page, "view-enrol")  # the page stays, never blank
    finally:
        site.start()
    wait(page, lambda d: not visible(d, "banner"), timeout=30, what="the banner gone once the server is back")
    assert "Half Done" not in registry_people(site)
    go(page, site, "people")
    assert sorted(n for n, _ in wait(page, people_cards)) == sorted(["Alex Lacamoire", LIN])


def test_an_expired_or_forged_session(site, page):
    from facecam.server import sessions

    page.get(f"{site.url}/health")
    page.delete_all_cookies()
    page.add_cookie({"name": sessions.COOKIE, "value": sessions.issue(TOKEN, now=time.time() - 13 * 3600), "path": "/"})
    page.get(site.url)
    wait(page, lambda d: text(d, "login-message") == "your session has expired: log in again", what="the expired message")
    page.delete_all_cookies()
    page.add_cookie({"name": sessions.COOKIE, "value": sessions.issue("another token"), "path": "/"})
    page.get(f"{site.url}/#people")
    page.refresh()
    wait(page, lambda d: text(d, "login-message") == "your session is no longer valid (the token was changed): log in again")
    assert not visible(page, "view-people")


def test_changes_need_the_page_header_and_origin(site):
    from facecam.server import sessions

    cookie = {"Cookie": f"{sessions.COOKIE}={sessions.issue(TOKEN)}"}
    r = httpx.delete(f"{site.url}/identities/Alex Lacamoire", headers=cookie)
    assert r.status_code == 403 and r.json()["detail"] == "a change from another site's page was refused"
    r = httpx.delete(f"{site.url}/identities/Alex Lacamoire",
                     headers={**cookie, "X-Facecam-Request": "1", "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert httpx.get(f"{site.url}/identities", headers=cookie).status_code == 200
    assert httpx.get(f"{site.url}/identities").json()["detail"] == "log in first (or send the bearer token)"
    assert httpx.get(f"{site.url}/health").status_code == 200
    assert "Alex Lacamoire" in registry_people(site)


def test_browser_enrolment_api(site, data):
    """The frames route as the page uses it: guidance back, an ended enrolment is a clear 404."""
    frame = cv2.imencode(".jpg", cv2.imread(str(data / "face_recognition_examples/examples/biden.jpg")))[1].tobytes()
    page = {**AUTH, "X-Facecam-Request": "1"}
    started = httpx.post(f"{site.url}/enrolments", headers=page).json()
    r = httpx.post(f"{site.url}/enrolments/{started['id']}/frames", content=frame, headers={**page, "Content-Type": "image/jpeg"},
                   timeout=60)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["samples"] == (1 if answer["kept"] else 0) and len(answer["face"]) == 4 and len(answer["oval"]) == 4
    if answer["kept"]:  # the face held, and dropping it
        face = httpx.get(f"{site.url}/enrolments/{started['id']}/samples/{answer['kept']}/face", headers=page)
        assert face.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(face.content, np.uint8), cv2.IMREAD_COLOR).shape == (224, 224, 3)
        assert [c["direction"] for c in answer["captured"]] == [answer["kept"]]
        dropped = httpx.delete(f"{site.url}/enrolments/{started['id']}/samples/{answer['kept']}", headers=page).json()
        assert (dropped["samples"], dropped["captured"], dropped["guidance"]["filled"]) == (0, [], [])
        assert httpx.delete(f"{site.url}/enrolments/{started['id']}/samples/{answer['kept']}", headers=page).status_code == 404
    r = httpx.post(f"{site.url}/enrolments/{started['id']}/frames", content=b"not a jpeg", headers=page)
    assert r.status_code == 415
    assert httpx.delete(f"{site.url}/enrolments/{started['id']}", headers=page).status_code == 204
    r = httpx.post(f"{site.url}/enrolments/{started['id']}/frames", content=frame, headers=page)
    assert r.status_code == 404 and r.json()["detail"].startswith("this enrolment has ended")
    r = httpx.post(f"{site.url}/enrolments/{started['id']}", json={"name": "Joe"}, headers=page)
    assert r.status_code == 404 and "Joe" not in registry_people(site)


def test_read_only_page_without_a_token(tmp_path, page, data):
    registry = tmp_path / "registry"
    proc, url = start_server(tmp_path, "--registry", registry, token=None)
    try:
        page.delete_all_cookies()
        page.get(f"{url}/#people")
        wait(page, lambda d: visible(d, "view-people"), what="the people view")
        assert visible(page, "readonly") and not visible(page, "view-login")
        assert wait(page, lambda d: text(d, "people")) == "Nobody is enrolled yet."
        go(page, type("S", (), {"url": url}), "enrol")
        assert by_id(page, "enrol-start").get_attribute("disabled") is not None
        assert text(page, "enrol-hint") == "Enrolling needs a server with a token (FACECAM_TOKEN) and a login."
    finally:
        stop(proc)


def test_an_idle_source_says_so_under_its_picture(tmp_path, page, data, detector):
    """A hallway with nobody in it (the stage, its faces painted out, under sensor noise): its
    caption says the detector rests."""
    from scenes import empty_stage, still_frames, write_video

    hall = tmp_path / "hall.mp4"
    write_video(still_frames(empty_stage(data / CLIP, detector), 60, 29.97), hall, 29.97)
    proc, url = start_server(tmp_path, "--registry", tmp_path / "registry", "--source", f"hall={hall}", "--loop",
                             "--realtime", token=None)
    try:
        page.delete_all_cookies()
        go(page, type("S", (), {"url": url}), "live")
        caption = lambda d: d.find_element("css selector", "#streams figcaption").text  # noqa: E731
        assert wait(page, lambda d: "idle" in caption(d) and caption(d), timeout=30, what="the idle caption") == (
            "hall · idle: nothing moves")
    finally:
        stop(proc)


# ---- the parts alone

def test_session_values():
    from facecam.server import sessions

    now = 1_800_000_000
    value = sessions.issue("t", now=now)
    assert sessions.problem("t", value, now=now + 3600) is None
    assert sessions.problem("t", value, now=now + sessions.SESSION_HOURS * 3600) == "your session has expired: log in again"
    assert sessions.problem("u", value, now=now).startswith("your session is no longer valid")
    expires, nonce, mac = value.split(".")
    forged = f"{int(expires) + 10**6}.{nonce}.{mac}"  # a later expiry without the token's signature
    assert sessions.problem("t", forged, now=now).startswith("your session is no longer valid")
    assert sessions.problem("t", "garbage", now=now).startswith("your session is no longer valid")
    assert sessions.same_origin({"host": "a:1", "origin": "http://a:1"}) and not sessions.same_origin(
        {"host": "a:1", "origin": "http://b:1"}) and sessions.same_origin({"host": "a:1"})


def test_idle_browser_enrolments_are_dropped(detector):
    from facecam.server.enrolments import IDLE_S, MAX_OPEN, BrowserEnrolments
    from facecam.server.guard import HTTPProblem

    now = [0.0]
    service = type("S", (), {"detector": detector, "embedder": None})()
    open_ = BrowserEnrolments(service, clock=lambda: now[0])
    keys = [open_.start()["id"] for _ in range(MAX_OPEN)]
    with pytest.raises(HTTPProblem) as full:
        open_.start()
    assert full.value.status == 429
    blank = np.zeros((480, 640, 3), np.uint8)
    now[0] = IDLE_S - 1
    assert open_.frame(keys[0], blank)["guidance"]["hint"]  # no face: the hint says what to do, nothing kept
    now[0] = IDLE_S + 1  # the others idle for longer than IDLE_S
    open_.start()
    for key in keys[1:]:
        with pytest.raises(HTTPProblem) as gone:
            open_.frame(key, blank)
        assert gone.value.status == 404
    assert open_.frame(keys[0], blank)["samples"] == 0


def test_https_with_a_certificate(tmp_path, data):
    need = shutil.which("openssl")
    assert need, "openssl is needed for this test"
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    assert_one_line_error(facecam("serve", "--tls-cert", cert, "--registry", tmp_path / "r"), 2,
                          "--tls-cert and --tls-key go together")
    assert_one_line_error(facecam("serve", "--tls-cert", key, "--tls-key", cert, "--registry", tmp_path / "r"), 2,
                          "not a PEM certificate and its key")
    assert_one_line_error(facecam("serve", "--tls-cert", tmp_path / "none.pem", "--tls-key", key, "--registry", tmp_path / "r"),
                          2, "none.pem: No such file or directory")
    from services import free_port
    import os
    import sys

    port = free_port()
    env = {**os.environ, "FACECAM_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "facecam", "serve", "--port", str(port), "--registry", tmp_path / "r",
                             "--tls-cert", cert, "--tls-key", key], env=env, stderr=subprocess.PIPE, text=True)
    import ssl

    trusted = ssl.create_default_context(cafile=str(cert))
    def health():
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(f"https://localhost:{port}/health", verify=trusted, timeout=1)
        except httpx.TransportError:
            return None

    try:
        r = wait_until(health, 120, "the HTTPS server", every=0.3)
        assert r.status_code == 200
        r = httpx.post(f"https://localhost:{port}/login", json={"token": TOKEN}, verify=trusted)
        assert "secure" in r.headers["set-cookie"].lower().split("; ")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
