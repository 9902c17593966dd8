"""The feed poller's fetch guard: which addresses it refuses, how it resolves and follows redirects.

No network: addresses are literals, the resolver is a stub and HTTP goes through httpx.MockTransport
(or is refused before any connection is made).
"""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import httpx
import pytest

from services.common import addresses
from services.common.addresses import address_refusal, checked_addresses
from services.ingest import feeds
from services.ingest.feeds import MAX_REDIRECTS, FeedRefused, TooLarge, check_url, fetch, make_client, poll_once
from services.ingest.settings import IngestSettings

PUBLIC_V4, PUBLIC_V6 = "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

REFUSED = {
    # IPv4
    "127.0.0.1": "loopback", "127.8.9.10": "loopback", "10.0.0.1": "private", "172.16.5.4": "private",
    "172.31.255.255": "private", "192.168.1.1": "private", "169.254.169.254": "link-local",
    "100.64.0.1": "special-purpose", "0.0.0.0": "unspecified", "0.1.2.3": "private", "224.0.0.1": "multicast",
    "239.255.255.250": "multicast", "240.0.0.1": "", "255.255.255.255": "", "192.0.0.8": "special-purpose",
    "192.0.2.10": "", "198.18.0.1": "", "198.51.100.7": "", "203.0.113.9": "",
    # IPv6
    "::1": "loopback", "::": "unspecified", "fe80::1": "link-local", "fe80::1%eth0": "link-local",
    "fc00::1": "private", "fd12:3456::1": "private", "ff02::1": "multicast", "ff0e::1": "multicast",
    "fec0::1": "site-local", "2001:db8::1": "", "100::1": "", "64:ff9b:1::a00:1": "",
    # IPv4 inside IPv6: mapped, NAT64, 6to4, IPv4-compatible
    "::ffff:127.0.0.1": "loopback", "::ffff:10.0.0.1": "private", "::ffff:169.254.169.254": "link-local",
    "::ffff:0.0.0.0": "unspecified", "64:ff9b::7f00:1": "loopback", "64:ff9b::a9fe:a9fe": "link-local",
    "2002:7f00:1::1": "loopback", "2002:c0a8:101::1": "private", "::127.0.0.1": "loopback",
}

ALLOWED = ["8.8.8.8", "1.1.1.1", PUBLIC_V4, "2001:4860:4860::8888", PUBLIC_V6, "::ffff:8.8.8.8",
           "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address, reason", sorted(REFUSED.items()))
def test_non_public_addresses_are_refused(address, reason):
    refusal = address_refusal(address)
    assert refusal is not None, address
    assert reason in refusal


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address):
    assert address_refusal(address) is None


def _resolver(table: dict[str, list[str]], calls: list | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]
    return resolve


def run(coro):
    return asyncio.run(coro)


def test_every_resolved_address_is_checked():
    resolver = _resolver({"mixed.example": [PUBLIC_V4, "10.0.0.7"], "v6.example": [PUBLIC_V6, "::1"],
                          "good.example": [PUBLIC_V4, PUBLIC_V6]})
    with pytest.raises(FeedRefused, match="10.0.0.7"):
        run(checked_addresses("mixed.example", 443, resolver, FeedRefused))
    with pytest.raises(FeedRefused, match="loopback"):
        run(checked_addresses("v6.example", 443, resolver, FeedRefused))
    assert run(checked_addresses("good.example", 443, resolver, FeedRefused)) == [PUBLIC_V4, PUBLIC_V6]


def test_unresolvable_and_empty_answers_are_refused():
    resolver = _resolver({"empty.example": []})
    with pytest.raises(FeedRefused, match="does not resolve"):
        run(checked_addresses("missing.example", 80, resolver, FeedRefused))
    with pytest.raises(FeedRefused, match="does not resolve"):
        run(checked_addresses("empty.example", 80, resolver, FeedRefused))


def test_ip_literals_are_checked_without_resolving():
    calls: list[str] = []
    resolver = _resolver({}, calls)
    with pytest.raises(FeedRefused):
        run(checked_addresses("127.0.0.1", 80, resolver, FeedRefused))
    with pytest.raises(FeedRefused):
        run(checked_addresses("[::ffff:7f00:1]", 80, resolver, FeedRefused))
    assert run(checked_addresses("8.8.8.8", 80, resolver, FeedRefused)) == ["8.8.8.8"]
    assert calls == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://ftp.example/feed.xml", "gopher://x.example/",
                                 "http:///no-host"])
def test_only_http_and_https_with_a_host(url):
    with pytest.raises(FeedRefused):
        run(check_url(httpx.URL(url), allow_private=True, resolver=_resolver({})))


def test_allow_private_skips_the_address_check_only():
    run(check_url(httpx.URL("http://127.0.0.1:8080/feed.xml"), allow_private=True))
    with pytest.raises(FeedRefused):
        run(check_url(httpx.URL("http://127.0.0.1:8080/feed.xml"), allow_private=False))


# -- fetch: redirects, size, time ------------------------------------------------------------------

RESOLVER = _resolver({"feeds.example": [PUBLIC_V4], "cdn.example": [PUBLIC_V6],
                      "rebind.example": ["127.0.0.1"], "internal.example": [PUBLIC_V4, "192.168.0.10"]})


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)


async def _fetch(handler, url: str, max_bytes: int = 10_000, timeout_s: float = 5.0, allow_private: bool = False):
    async with _client(handler) as client:
        return await fetch(client, url, max_bytes, timeout_s=timeout_s, allow_private=allow_private,
                           resolver=RESOLVER)


def _redirect(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


def test_redirects_are_followed_and_each_hop_is_checked():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/feed":
            return _redirect("https://cdn.example/moved", 301)
        if request.url.path == "/moved":
            return _redirect("/final", 307)  # relative: resolved against the current URL
        return httpx.Response(200, text="<rss/>")

    assert run(_fetch(handler, "http://feeds.example/feed")) == "<rss/>"
    assert seen == ["http://feeds.example/feed", "https://cdn.example/moved", "https://cdn.example/final"]


@pytest.mark.parametrize("target", ["http://127.0.0.1/admin", "http://[::1]:8080/", "http://169.254.169.254/latest/",
                                    "http://rebind.example/", "http://internal.example/", "file:///etc/passwd",
                                    "http://[::ffff:10.0.0.1]/"])
def test_a_redirect_to_a_refused_address_is_not_followed(target):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return _redirect(target)

    with pytest.raises(FeedRefused):
        run(_fetch(handler, "http://feeds.example/feed"))
    assert seen == ["feeds.example"]  # the refused hop was never requested


def test_at_most_five_redirects():
    def chain(limit: int):
        def handler(request: httpx.Request) -> httpx.Response:
            hop = int(request.url.params.get("hop", "0"))
            return _redirect(f"/r?hop={hop + 1}") if hop < limit else httpx.Response(200, text="done")
        return handler

    assert run(_fetch(chain(MAX_REDIRECTS), "http://feeds.example/r")) == "done"
    with pytest.raises(FeedRefused, match="redirects"):
        run(_fetch(chain(MAX_REDIRECTS + 1), "http://feeds.example/r"))


def test_a_large_body_is_cut_off():
    with pytest.raises(TooLarge):
        run(_fetch(lambda request: httpx.Response(200, content=b"x" * 20_000), "http://feeds.example/big"))
    assert len(run(_fetch(lambda request: httpx.Response(200, content=b"x" * 10_000), "http://feeds.example/ok"))) \
        == 10_000


def test_the_whole_fetch_has_a_deadline():
    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/first":
            await asyncio.sleep(0.2)
            return _redirect("/second")
        await asyncio.sleep(0.2)
        return httpx.Response(200, text="late")

    # Each hop is faster than the limit, the two together are not.
    with pytest.raises(TimeoutError):
        run(_fetch(slow, "http://feeds.example/first", timeout_s=0.3))


def test_allow_private_fetches_local_addresses():
    assert run(_fetch(lambda request: httpx.Response(200, text="local"), "http://127.0.0.1:8000/feed.xml",
                      allow_private=True)) == "local"


def test_an_unknown_charset_falls_back_to_utf8():
    response = httpx.Response(200, content="café".encode(), headers={"Content-Type": "text/xml; charset=x-bogus"})
    assert run(_fetch(lambda request: response, "http://feeds.example/feed")) == "café"


# -- the connection itself -------------------------------------------------------------------------

def _settings(**overrides) -> IngestSettings:
    return IngestSettings(**({"feeds": [], "feed_timeout_s": 2.0, "feed_allow_private": False} | overrides))


@pytest.mark.parametrize("url", ["http://rebind.example/", "http://127.0.0.1:9/", "http://[::1]:9/",
                                 "https://internal.example/"])
def test_the_client_connects_only_to_checked_addresses(url):
    """Even without fetch's own check (e.g. a DNS answer changed since), the connection is refused."""
    async def go():
        async with make_client(_settings(), resolver=RESOLVER) as client:
            await client.get(url)

    with pytest.raises(FeedRefused):
        run(go())


def test_the_client_ignores_proxy_settings_and_redirects(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    client = make_client(_settings())
    assert client.trust_env is False and client.follow_redirects is False
    run(client.aclose())


# -- the poller --------------------------------------------------------------------------------------

class _FakeService:
    def __init__(self):
        self.ledger = SimpleNamespace(known=lambda article_id: False)
        self.memory = None  # no outlet memory: each entry is cleaned on its own
        self.published = []

    async def publish_drafts(self, drafts, source):
        self.published += drafts
        return [SimpleNamespace(status="published") for _ in drafts]


def test_the_poller_does_not_fetch_or_ingest_entries_that_point_inside():
    requested = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.path == "/feed.xml":
            return httpx.Response(200, text="""<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>
<item><title>Metadata</title><link>http://169.254.169.254/latest/meta-data/</link></item>
<item><title>Harbour</title><link>http://feeds.example/harbour.html</link></item>
</channel></rss>""")
        return httpx.Response(200, text="<html><body><article><p>The harbour authority spent 12 million euros "
                                        "dredging the channel last year, its report shows.</p></article></body></html>")

    service = _FakeService()

    async def go():
        async with _client(handler) as client:
            return await poll_once(service, _settings(feeds=["http://feeds.example/feed.xml"]), client,
                                   resolver=RESOLVER)

    assert run(go()) == 1
    assert requested == ["http://feeds.example/feed.xml", "http://feeds.example/harbour.html"]
    assert [d.url for d in service.published] == ["http://feeds.example/harbour.html"]


def test_a_refused_feed_url_is_logged_and_skipped():
    requested = []

    async def go():
        async with _client(lambda request: requested.append(request) or httpx.Response(200)) as client:
            return await poll_once(_FakeService(), _settings(feeds=["http://10.1.2.3/feed.xml"]), client,
                                   resolver=RESOLVER)

    assert run(go()) == 0
    assert requested == []


def test_settings_default_refuses_private_addresses(monkeypatch):
    monkeypatch.delenv("INGEST_FEED_ALLOW_PRIVATE", raising=False)
    assert IngestSettings().feed_allow_private is False
    monkeypatch.setenv("INGEST_FEED_ALLOW_PRIVATE", "true")
    assert IngestSettings().feed_allow_private is True
    assert feeds.MAX_REDIRECTS == 5


def test_the_guarded_client_connects_to_the_checked_address_and_keeps_the_host(monkeypatch):
    """The positive path of the guard, against a local server: the name is resolved by our resolver,
    the connection goes to that address and the request still names the original host."""
    import http.server
    import threading

    hosts = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hosts.append(self.headers["Host"])
            body = b"<rss/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setattr(addresses, "address_refusal", lambda address: None)  # let 127.0.0.1 pass, for this test only
    resolver = _resolver({"feeds.test": ["127.0.0.1"]})

    async def go():
        async with make_client(_settings(), resolver=resolver) as client:
            return await fetch(client, f"http://feeds.test:{port}/feed.xml", 1000, timeout_s=5, resolver=resolver)

    try:
        assert run(go()) == "<rss/>"
    finally:
        server.shutdown()
    assert hosts == [f"feeds.test:{port}"]
