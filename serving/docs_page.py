"""GET /: BentoML's Swagger UI page, loading nothing from beyond the server.

BentoML 1.4's index page (`_bentoml_impl/server/main-openapi.html`) embeds Google Tag Manager (a script and a
noscript iframe from www.googletagmanager.com), and Swagger UI's standalone layout shows an "online validator"
badge: an image fetched from validator.swagger.io with the page's own spec URL in it, whenever the page is opened
by a host name other than localhost. A credit officer opening the docs inside a lender's network would send both.

The service answers `/` itself (its Starlette routes are mounted ahead of BentoML's index route) with BentoML's
page, read once from the installed package so that it follows BentoML's version, less every comment and every
script, iframe, noscript, style, link or img that names another host, and with Swagger UI's validator turned off.
The Swagger UI files stay BentoML's own, under ./static_content/. Should BentoML's page be gone, or hold something
external that the strip leaves, the page is a minimal Swagger page of the service's own. Either way the answer's
Content-Security-Policy lets the browser load from this server only, whatever a later Swagger UI would fetch.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse

COMMENT = re.compile(r"<!--.*?-->", re.S)
ELEMENT = re.compile(r"<(script|iframe|noscript|style)\b[^>]*>.*?</\1\s*>|<(?:link|img)\b[^>]*>", re.I | re.S)
BLANK_LINE = re.compile(r"\n[ \t]*(?=\n)")
HOST_URL = re.compile(r"//[\w-]+(?:\.[\w-]+)*", re.I)  # a URL naming a host: https://h.example, //h.example
NO_VALIDATOR = (  # Swagger UI's default validatorUrl is validator.swagger.io: every call of the bundle gets "none"
    "<script>(function (bundle) { if (!bundle) return; window.SwaggerUIBundle = Object.assign(function (config) "
    '{ return bundle(Object.assign({}, config, {validatorUrl: "none"})); }, bundle); })(window.SwaggerUIBundle);'
    "</script>\n"
)
MINIMAL = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>thinfile scoring service</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"> </script>
    <script>
      window.onload = function () {
        window.ui = SwaggerUIBundle({url: "./docs.json", dom_id: "#swagger-ui", validatorUrl: "none"});
      };
    </script>
  </body>
</html>
"""
# the browser loads from this server only; inline code and eval stay allowed, as Swagger UI's page needs them
CSP = "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; base-uri 'self'; form-action 'self'"
LOADS = {"src", "href", "xlink:href", "srcset", "data", "poster", "action", "formaction", "background", "manifest"}


class ExternalRefs(HTMLParser):
    """Every attribute URL of a page that names another host, links to follow (<a href>) aside."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag == "a" and name == "href" or name not in LOADS or not value:
                continue
            if HOST_URL.search(value):
                self.found.append(f"<{tag} {name}={value!r}>")


def external_refs(html: str) -> list[str]:
    parser = ExternalRefs()
    parser.feed(html)
    parser.close()
    return parser.found


def local_page(html: str) -> str:
    """`html` without comments and without any script, iframe, noscript, style, link or img naming another host,
    and with Swagger UI's validator off; MINIMAL if anything external is left."""
    html = COMMENT.sub("", html)
    html = ELEMENT.sub(lambda m: "" if HOST_URL.search(m.group(0)) else m.group(0), html)
    html = BLANK_LINE.sub("", html)
    head, body_end, tail = html.rpartition("</body>")
    html = head + NO_VALIDATOR + body_end + tail if body_end else html + NO_VALIDATOR
    return MINIMAL if external_refs(html) else html


def bentoml_page() -> str:
    """BentoML's own Swagger UI page, as the installed bentoml serves it at / (MINIMAL if it is not there)."""
    try:
        return (files("_bentoml_impl.server") / "main-openapi.html").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return MINIMAL


PAGE = local_page(bentoml_page())


async def index_page(request: Request) -> HTMLResponse:
    """GET /: the Swagger UI page, loading only this server's files."""
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP})
