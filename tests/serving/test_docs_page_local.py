"""The docs page (GET /, Swagger UI) of the real service loads nothing from beyond the server.

BentoML 1.4's own index page loads Google Tag Manager (a script and a noscript iframe from
www.googletagmanager.com), which a credit officer's browser would fetch from inside the lender's network.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

pytestmark = pytest.mark.slow

LOADED = {"script": "src", "link": "href", "iframe": "src", "img": "src"}


class Loaded(HTMLParser):
    """The URL of every script, link, iframe and img of a page, as written."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if LOADED.get(tag) == name and value is not None:
                self.urls.append((tag, value))


def loaded_urls(html: str) -> list[tuple[str, str]]:
    parser = Loaded()
    parser.feed(html)
    parser.close()
    return parser.urls


def test_the_docs_page_loads_only_this_servers_files(served) -> None:
    with served.client(key=None) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "googletagmanager" not in page.text.lower()
        urls = loaded_urls(page.text)
        here = urlsplit(served.url)
        absolute = [urljoin(f"{served.url}/", url) for _, url in urls]
        elsewhere = [url for url in absolute if urlsplit(url)[:2] != here[:2]]
        assert not elsewhere, f"the docs page loads from another host: {elsewhere}"
        assert any(urlsplit(url).path == "/static_content/swagger-ui-bundle.js" for url in absolute)
        for url in absolute:
            assert client.get(url).status_code == 200, url
        assert {"/score", "/score_batch"} <= set(client.get("/docs.json").json()["paths"])
        assert client.get("/docs", follow_redirects=True).text == page.text


def test_the_docs_page_turns_off_swagger_uis_online_validator(served) -> None:
    """Swagger UI's default validatorUrl fetches a badge from validator.swagger.io naming the page's spec URL."""
    with served.client(key=None) as client:
        page = client.get("/")
        urls = [urljoin(f"{served.url}/", url) for tag, url in loaded_urls(page.text) if tag == "script"]
        scripts = [client.get(url).text for url in urls]
        assert re.search(r"""validatorUrl\s*:\s*["']none["']""", "\n".join([page.text, *scripts]))
        assert "default-src 'self'" in page.headers["content-security-policy"]
