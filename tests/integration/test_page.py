"""The query service's page (`GET /`), in a real headless Chromium against the real stack.

Chromium (Debian's package; scripts/install_test_tools.sh) runs with a fresh profile and its
DevTools port; the tests drive it over the DevTools protocol with aiohttp's websocket client
(already installed as a dependency of faust), so nothing else is needed. They load the page,
wait for the claims the run posted, post another article and wait for it to arrive live
over the event stream, filter by outlet through the form and by entity through a chip, open
a cluster's propagation ledger, and check that markup in untrusted text stays text. Any
JavaScript exception, console error or Content-Security-Policy violation fails the test.
Screenshots go to test-output/page-feed.png and test-output/page-cluster.png.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
import pytest

from tests.conftest import OUTPUT, wait_for
from tests.tools import find_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--hide-scrollbars", "--window-size=1400,1000", "--remote-debugging-port=0"]
# The shared claim carries a number of its own per run, so no other test's claim joins its cluster.
SHARED = "Firefighters evacuated {n:,} residents from three villages near Patras on Tuesday, officials said."



@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile; yields its DevTools HTTP address."""
    binary = find_tool("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = profile.parent / "chromium.log"
    proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, f"chromium exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"chromium did not open its DevTools port:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class Page:
    """One browser tab over the DevTools protocol: just what these tests need."""

    def __init__(self, ws, target_id: str) -> None:
        self.ws = ws
        self.target_id = target_id
        self.next_id = 0
        self.problems: list[str] = []

    async def send(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=60)
            if message.get("id") == self.next_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message.get("result", {})
            self._note(message)

    def _note(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append(f"exception: {details.get('exception', {}).get('description') or details['text']}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.problems.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                        for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.problems.append(f"log ({params['entry']['source']}): {params['entry']['text']}")

    async def js(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, f"{expression}: {result['exceptionDetails']}"
        return result["result"].get("value")

    async def wait(self, expression: str, message: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            value = await self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {message} ({expression}); "
                            f"last value {value!r}; page problems: {self.problems}")
            await asyncio.sleep(0.5)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait("document.readyState === 'complete'", f"{url} to load")

    async def screenshot(self, name: str) -> Path:
        data = (await self.send("Page.captureScreenshot", format="png"))["data"]
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / name
        path.write_bytes(base64.b64decode(data))
        return path


async def open_page(browser: str, session: aiohttp.ClientSession) -> Page:
    async with session.put(f"{browser}/json/new?about:blank") as response:
        target = await response.json(content_type=None)
    ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
    page = Page(ws, target["id"])
    for domain in ("Page", "Runtime", "Log"):
        await page.send(f"{domain}.enable")
    await page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    await page.send("Emulation.setTimezoneOverride", timezoneId="UTC")
    return page


async def close_page(browser: str, session: aiohttp.ClientSession, page: Page) -> None:
    await page.ws.close()
    async with session.get(f"{browser}/json/close/{page.target_id}"):
        pass


@pytest.fixture(scope="module")
def posted(stack):
    """Three outlets repeating one claim a day ago, an hour apart, and one outlet name that is markup."""
    run = uuid.uuid4().hex[:8]
    shared = SHARED.format(n=10_000 + int(run[:5], 16) % 80_000)
    base = datetime.now(timezone.utc) - timedelta(days=1)
    outlets = [f"Page Herald {run}", f"Page Gazette {run}", f'<img src=x onerror="window.__pwned=1">Page Wire {run}']
    bodies = [
        f"{shared}\n\nThe European Commission said 14 percent of the forest in the region had burned since July.",
        f"{shared}\n\nGreece asked the European Union for four more water-dropping aircraft on Wednesday.",
        f"{shared}\n\nInsurers estimated the damage at 310 million euros, the Bank of Greece said on Monday.",
    ]
    for n, (outlet, body) in enumerate(zip(outlets, bodies, strict=True)):
        article = {"id": f"page-{run}-{n}", "outlet": outlet, "title": f"Fire report {n}",
                   "url": f"https://page-{n}.example/{run}", "published_at": (base + timedelta(hours=n)).isoformat(),
                   "body": body}
        response = httpx.post(f"{stack.ingest}/articles", json=article, timeout=30)
        assert response.status_code == 202, response.text

    def ours():
        items = httpx.get(f"{stack.query}/claims", params={"limit": 200}, timeout=10).json()["items"]
        return [c for c in items if c["outlet"] in outlets]

    claims = wait_for(lambda: len(found := ours()) >= 6 and found, timeout=90, message="the run's claims")
    first = [c for c in claims if c["text"] == shared and c["outlet"] == outlets[0]]
    assert first, [c["text"] for c in claims]
    cluster_id = first[0]["cluster_id"]
    wait_for(lambda: (r := httpx.get(f"{stack.query}/clusters/{cluster_id}", timeout=10)).status_code == 200
             and r.json()["appearance_count"] == 3, timeout=60, message="the shared claim's ledger of 3")
    return {"run": run, "outlets": outlets, "claims": claims, "cluster_id": cluster_id}


def test_page_and_its_files_are_served_with_a_strict_content_security_policy(stack) -> None:
    page = httpx.get(f"{stack.query}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        response = httpx.get(f"{stack.query}/static/{name}", timeout=10)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind), name
    assert httpx.get(f"{stack.query}/static/..%2Fmain.py", timeout=10).status_code == 404
    assert httpx.get(f"{stack.query}/static/index.html", timeout=10).status_code == 404
    script = (ROOT / "services" / "query" / "static" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, f"app.js uses {sink}"


async def test_the_page_shows_the_feed_live_and_filters_it(stack, browser, posted) -> None:
    outlets = posted["outlets"]
    async with aiohttp.ClientSession() as session:
        page = await open_page(browser, session)
        try:
            await page.goto(f"{stack.query}/")
            await page.wait("document.getElementById('status').dataset.state === 'live'", "the stream to open")
            texts = json.dumps([c["text"] for c in posted["claims"]])
            await page.wait(f"(() => {{ const shown = [...document.querySelectorAll('#feed li .text')]"
                            f".map(n => n.textContent); return {texts}.every(t => shown.includes(t)); }})()",
                            "every claim of the run on the page")

            # Untrusted text stays text: the outlet that is an <img> tag is shown as written.
            shown = await page.js("[...document.querySelectorAll('#feed .outlet')].map(n => n.textContent)")
            assert outlets[2] in shown
            assert await page.js("document.querySelectorAll('img').length") == 0
            assert await page.js("window.__pwned === undefined")

            # A claim posted now arrives over the event stream, without a reload.
            live = f"Page Live {posted['run']}"
            sentence = f"The port of Piraeus handled 5.1 million containers in 2025, its operator said on {live}."
            response = httpx.post(f"{stack.ingest}/articles", timeout=30, json={  # noqa: ASYNC210 - the stack is other processes; the browser session only waits meanwhile
                "id": f"page-live-{posted['run']}", "outlet": live, "body": sentence})
            assert response.status_code == 202, response.text
            await page.wait(f"[...document.querySelectorAll('#feed li .outlet')].some(n => n.textContent === "
                            f"{json.dumps(live)})", "the live claim to arrive", timeout=90)
            first = await page.js("document.querySelector('#feed li .outlet').textContent")
            assert first == live, "a live claim goes on top of the feed"
            # The leaderboards follow: recomputed by the server after the live claim, and fetched again.
            arrived = await page.js("Date.now()")
            await page.wait(f"Date.parse(document.body.dataset.boardsUpdatedAt || 0) > {arrived}",
                            "leaderboards computed after the live claim", timeout=45)
            assert await page.js("document.querySelectorAll('#top-entities li').length") > 0
            await page.screenshot("page-feed.png")

            # Filter by outlet through the form: the feed reloads with that outlet only.
            await page.js(f"document.getElementById('f-outlet').value = {json.dumps(outlets[1])};"
                          "document.getElementById('filters').requestSubmit()")
            only = json.dumps(outlets[1])
            await page.wait("(() => { const o = [...document.querySelectorAll('#feed li .outlet')]"
                            f".map(n => n.textContent); return o.length > 0 && o.every(t => t === {only}); }})()",
                            "the outlet filter")
            assert "outlet=" in await page.js("location.search")

            # Filter by entity with a chip: every claim left names it.
            entity = await page.js("document.querySelector('#feed li .chip:not(.value)').textContent")
            await page.js("document.querySelector('#feed li .chip:not(.value)').click()")
            await page.wait(f"document.getElementById('f-entity').value === {json.dumps(entity)}", "the entity filter")
            await page.wait("(() => { const items = [...document.querySelectorAll('#feed li')];"
                            "return items.length > 0 && items.every(li => [...li.querySelectorAll('.chip')]"
                            f".some(c => c.textContent === {json.dumps(entity)})); }})()",
                            "only claims naming the entity")
            assert not page.problems, page.problems
        finally:
            await close_page(browser, session, page)


async def test_the_cluster_drill_down_shows_the_propagation_ledger(stack, browser, posted) -> None:
    outlets, cluster_id = posted["outlets"], posted["cluster_id"]
    async with aiohttp.ClientSession() as session:
        page = await open_page(browser, session)
        try:
            # A deep link with a filter: only the first outlet's claims, however busy the feed is.
            await page.goto(f"{stack.query}/?" + urlencode({"outlet": outlets[0]}))
            assert await page.js("document.getElementById('f-outlet').value") == outlets[0]
            selector = json.dumps(f"#feed li[data-cluster-id='{cluster_id}'] .cluster-link")
            await page.wait(f"document.querySelector({selector}) !== null", "the shared claim in the feed")
            await page.js(f"document.querySelector({selector}).click()")
            await page.wait("document.querySelectorAll('#ledger tbody tr').length === 3", "the ledger's 3 rows")
            assert not await page.js("document.getElementById('drill').hidden")
            assert await page.js("document.getElementById('drill-id').textContent") == cluster_id
            assert await page.js("document.getElementById('drill-first').textContent") == outlets[0]
            rows = await page.js("[...document.querySelectorAll('#ledger tbody tr')]"
                                 ".map(r => r.children[2].firstChild.textContent)")
            assert rows == outlets, "appearances in published order, the markup outlet as text"
            assert await page.js("document.querySelectorAll('img').length") == 0
            assert f"cluster={cluster_id}" in await page.js("location.search")

            await page.wait("document.querySelectorAll('#top-entities li').length > 0", "the top entities")
            shot = await page.screenshot("page-cluster.png")
            assert shot.stat().st_size > 10_000

            # A trending cluster opens the same drill-down.
            await page.wait("document.querySelectorAll('#trending [data-cluster-id]').length > 0", "trending clusters")
            trend = await page.js("document.querySelector('#trending [data-cluster-id]').dataset.clusterId")
            await page.js("document.querySelector('#trending [data-cluster-id]').click()")
            await page.wait(f"document.getElementById('drill-id').textContent === {json.dumps(trend)} && "
                            "document.querySelectorAll('#ledger tbody tr').length > 0", "the trending cluster's ledger")
            assert not page.problems, page.problems
        finally:
            await close_page(browser, session, page)


async def press(page: Page, key: str) -> None:
    """A key as a person types it (keydown with its text, then keyup), to the focused element."""
    named = {"Escape": ("Escape", 27), "Enter": ("Enter", 13)}
    code, vk = named[key] if key in named else (f"Key{key.upper()}", ord(key.upper()))
    text = {} if key in named else {"text": key, "unmodifiedText": key}
    await page.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, windowsVirtualKeyCode=vk, **text)
    await page.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)


async def test_the_desk_folds_stories_takes_verdicts_by_keyboard_and_fits_a_narrow_window(stack, browser,
                                                                                           posted) -> None:
    run, cluster_id = posted["run"], posted["cluster_id"]
    desk = f"Page Desk {run}"
    first_body = f"The harbour authority in {run} counted 4,100 ships in 2025, its director said."
    article = {"id": f"page-desk-{run}", "outlet": desk, "body": first_body}  # no URL: no link on its card
    assert httpx.post(f"{stack.ingest}/articles", json=article, timeout=30).status_code == 202  # noqa: ASYNC210 - the stack is other processes; the browser session only waits meanwhile
    async with aiohttp.ClientSession() as session:
        page = await open_page(browser, session)
        try:
            await page.goto(f"{stack.query}/")
            await page.wait("document.getElementById('status').dataset.state === 'live'", "the stream to open")
            card = f"document.querySelector('#feed > li[data-cluster-id=\"{cluster_id}\"]')"
            # One card per story: the three outlets of the shared claim are folded into it, copies marked.
            await page.wait(f"{card} && {card}.querySelectorAll('.appearance').length === 3", "the folded story")
            folded = f"document.querySelectorAll('#feed > li[data-cluster-id=\"{cluster_id}\"]').length"
            assert await page.js(folded) == 1
            members = httpx.get(f"{stack.query}/claims", params={"cluster": cluster_id}, timeout=10).json()["items"]  # noqa: ASYNC210 - the stack is other processes; the browser session only waits meanwhile
            copies = sum(1 for c in members if c["copy_of"])
            assert await page.js(f"{card}.querySelectorAll('.appearance .badge.copy').length") == copies
            assert await page.js(f"{card}.querySelectorAll('.appearance .badge.first').length") == 1
            outlets = await page.js(f"[...{card}.querySelectorAll('.appearance .outlet')].map(n => n.textContent)")
            assert sorted(outlets) == sorted(posted["outlets"])
            assert await page.js(f"{card}.querySelector('.first-seen time') !== null")
            assert await page.js(f"{card}.querySelectorAll('a.source').length") == 3  # each posted with a URL

            # Links only where a URL exists.
            desk_card = (f"[...document.querySelectorAll('#feed > li')].find(li => [...li.querySelectorAll("
                         f"'.outlet')].some(o => o.textContent === {json.dumps(desk)}))")
            await page.wait(f"{desk_card} !== undefined", "the desk article's story", timeout=90)
            links = await page.js(f"[...{desk_card}.querySelectorAll('a')].map(a => a.outerHTML)")
            texts = await page.js(f"{desk_card}.textContent")
            assert links == [], (links, texts)

            # Keyboard: focus the story, accept it with `a`, open its ledger with `o`, close with Escape.
            await page.js(f"{card}.focus()")
            await press(page, "a")
            await page.wait(f"{card}.dataset.verdict === 'accepted'", "the accepted verdict")
            assert await page.js(f"{card}.querySelector('.verdict-state').textContent") == "accepted"
            await press(page, "o")
            await page.wait(f"!document.getElementById('drill').hidden && "
                            f"document.getElementById('drill-id').textContent === {json.dumps(cluster_id)}",
                            "the ledger opened by keyboard")
            await page.wait("document.querySelectorAll('#ledger tbody tr').length === 3", "the ledger rows")
            await press(page, "Escape")
            await page.wait("document.getElementById('drill').hidden", "the ledger closed by Escape")
            await press(page, "j")
            assert await page.js(f"document.activeElement !== {card} && "
                                 "document.activeElement.parentElement.id === 'feed'")
            # Reject with the button: the verdict is stored as feedback.
            await page.js(f"{desk_card}.querySelector('.verdict.reject').click()")
            await page.wait(f"{desk_card}.dataset.verdict === 'rejected'", "the rejected verdict")
            verdicts = httpx.get(f"{stack.query}/feedback/summary", timeout=10).json()  # noqa: ASYNC210 - the stack is other processes; the browser session only waits meanwhile
            assert verdicts["feedback_count"] >= 2

            # A revised article shows up in the revisions panel with the old and new wording.
            edited = first_body.replace("4,100", "4,700")
            assert httpx.post(f"{stack.ingest}/articles", json=article | {"body": edited},  # noqa: ASYNC210 - the stack is other processes; the browser session only waits meanwhile
                              timeout=30).status_code == 202
            await page.wait(f"[...document.querySelectorAll('#revisions li')].some(li => "
                            f"li.textContent.includes({json.dumps(desk)}) && li.querySelector('ins'))",
                            "the desk article's revision", timeout=120)
            # ... and the card of the first wording says it was edited.
            first_card = (f"[...document.querySelectorAll('#feed > li')].find(li => "
                          f"li.querySelector('.text').textContent === {json.dumps(first_body)})")
            await page.wait(f"{first_card}.querySelector('.badge.revised') !== null", "the edited badge", timeout=30)
            assert await page.js("document.getElementById('alerts-empty') !== null")

            # Wide and narrow windows: nothing wider than the window.
            await page.js(f"{card}.scrollIntoView({{block: 'start'}})")
            await page.screenshot("page-desk-wide.png")
            await page.send("Emulation.setDeviceMetricsOverride", width=390, height=900, deviceScaleFactor=2,
                            mobile=True)
            await page.wait("window.innerWidth <= 420", "the narrow window")
            await page.js(f"{card}.scrollIntoView({{block: 'start'}})")
            overflow = await page.js("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"the page is {overflow}px wider than a narrow window"
            shot = await page.screenshot("page-desk-narrow.png")
            assert shot.stat().st_size > 10_000
            assert not page.problems, page.problems
        finally:
            await close_page(browser, session, page)
