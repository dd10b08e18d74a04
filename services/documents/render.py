"""The 学龄人口信息采集表 as an A4 PDF: the Jinja2 template (templates/form.html) with the account
number as a Code 128 barcode and the check link as a QR code, both inline SVG, laid out by
WeasyPrint. Runs in the documents service's worker processes (`render` is their target,
common/worker.py); nothing here imports nameko or eventlet.

Fonts: Noto Sans CJK SC (Debian's fonts-noto-cjk), embedded and subset by HarfBuzz
(libharfbuzz-subset0): without it WeasyPrint subsets in Python, about 10 s a page.
"""

from __future__ import annotations

import hashlib
import io
from functools import cache
from pathlib import Path

import barcode
import jinja2
import qrcode
import qrcode.image.svg
from barcode.writer import SVGWriter
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "form.html"
# Wide enough bars for a phone or a 150 dpi scan (0.33 mm, about 2 pixels a module).
_BARCODE = {"write_text": False, "module_width": 0.33, "module_height": 12.0,
            "quiet_zone": 3.0}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def template_digest() -> str:
    """Changes with the template: a form rendered by another template is rendered again."""
    return hashlib.sha256((TEMPLATES / TEMPLATE).read_bytes()).hexdigest()[:16]


def subsetting_in_c() -> bool:
    """Whether WeasyPrint subsets fonts with libharfbuzz-subset (4.1 or later)."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset
    return bool(harfbuzz_subset) and bool(harfbuzz.hb_version_atleast(4, 1, 0))


def _inline(svg: bytes | str) -> Markup:
    """An SVG document as an element of the page (its XML prolog dropped)."""
    text = svg.decode() if isinstance(svg, bytes) else svg
    return Markup(text[text.index("<svg"):])  # noqa: S704  (made here, not from input)


def barcode_svg(account_no: str) -> Markup:
    out = io.BytesIO()
    barcode.get("code128", account_no, writer=SVGWriter()).write(out, options=_BARCODE)
    return _inline(out.getvalue())


def qr_svg(url: str) -> Markup:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    return _inline(image.to_string())


def html(job: dict) -> str:
    """The page: `job` is rules/form.py's render_job."""
    return _environment().get_template(TEMPLATE).render(
        **job, barcode=barcode_svg(job["form"]["account_no"]), qr=qr_svg(job["verify_url"]))


def render(job: dict) -> bytes:
    from weasyprint import HTML
    return HTML(string=html(job), base_url=str(TEMPLATES)).write_pdf()


def prepare() -> None:
    """Loads WeasyPrint, the fonts and the template once per worker, before its first form."""
    from weasyprint import HTML
    _environment().get_template(TEMPLATE)
    HTML(string='<p style="font-family: \'Noto Sans CJK SC\'">表 1</p>').write_pdf()
