"""Typed content specs: what an author other than the built-in templates (a model provider, a
person) writes for an output, validated here and then rendered by the same generators.

One spec per kind of content — a document's outline and text, a sheet's columns, rows and
formulas, slides, a logo's SVG mark (sanitised), a site's copy. ``outputs.services.output_render``
is the entry point; nothing in a spec reaches a file without passing these models first.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Text = Annotated[str, Field(max_length=4000)]
Line = Annotated[str, Field(min_length=1, max_length=300)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SectionSpec(Spec):
    heading: Line
    paragraphs: list[Text] = Field(default_factory=list, max_length=20)
    bullets: list[Line] = Field(default_factory=list, max_length=30)


class DocumentSpec(Spec):
    """A document or PDF: title, optional subtitle, sections in order, a closing line."""

    kind: Literal["document"] = "document"
    title: Line
    subtitle: Text = ""
    sections: list[SectionSpec] = Field(min_length=1, max_length=40)
    closing: Text = ""


# A formula may add up, reference cells and do arithmetic: nothing that calls out, links or runs.
_FORMULA = re.compile(r"^=(?:SUM\(|[A-Z]{1,3}\d{1,6}|\d+(?:\.\d+)?|[-+*/(),:\s]|\))+$", re.IGNORECASE)
Cell = str | int | float | None


class SheetSpec(Spec):
    """A one-table spreadsheet: column names, rows of values or formulas, optional SUM totals row."""

    kind: Literal["sheet"] = "sheet"
    title: Line
    columns: list[Line] = Field(min_length=1, max_length=30)
    rows: list[list[Cell]] = Field(min_length=1, max_length=500)
    totals: bool = False

    @model_validator(mode="after")
    def _cells(self):
        for n, row in enumerate(self.rows, start=1):
            if len(row) > len(self.columns):
                raise ValueError(f"row {n} has {len(row)} cells but there are {len(self.columns)} columns")
            for value in row:
                if isinstance(value, str) and value.startswith("=") and not _FORMULA.match(value.replace(" ", "")):
                    raise ValueError(f"row {n}: only SUM, cell references and arithmetic are allowed ({value[:40]})")
                if isinstance(value, str) and len(value) > 1000:
                    raise ValueError(f"row {n}: a cell is longer than 1000 characters")
        return self


class SlideSpec(Spec):
    title: Line
    bullets: list[Line] = Field(default_factory=list, max_length=8)


class SlidesSpec(Spec):
    """A deck: a title slide (title, subtitle), content slides in order, a closing line."""

    kind: Literal["slides"] = "slides"
    title: Line
    subtitle: Text = ""
    slides: list[SlideSpec] = Field(min_length=1, max_length=40)
    closing: Text = ""


SVG_ELEMENTS = {
    "svg", "g", "path", "circle", "ellipse", "rect", "line", "polyline", "polygon", "text", "tspan", "title",
    "defs", "linearGradient", "radialGradient", "stop",
}  # fmt: skip
SVG_ATTRIBUTES = {
    "d", "cx", "cy", "r", "rx", "ry", "x", "y", "x1", "x2", "y1", "y2", "width", "height", "viewBox", "points",
    "fill", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin", "opacity", "fill-opacity",
    "stroke-opacity", "transform", "font-family", "font-size", "font-weight", "text-anchor", "offset",
    "stop-color", "id", "gradientUnits", "fill-rule",
}  # fmt: skip
_SAFE_VALUE = re.compile(r"^(?!.*(?:javascript:|data:|expression\(|url\((?!#[\w-]+\))))[^<>]*$", re.IGNORECASE)
_SVG_NS = "{http://www.w3.org/2000/svg}"


def sanitise_svg(markup: str) -> str:
    """The SVG with only drawing elements and presentation attributes left (no scripts, links,
    event handlers, styles, external references or entities). Refuses (ValueError) what is not
    an <svg> document at all."""
    if re.search(r"<!DOCTYPE|<!ENTITY", markup, re.IGNORECASE):
        raise ValueError("the SVG declares a DOCTYPE or entities, which are not allowed")
    try:
        root = ElementTree.fromstring(markup)  # noqa: S314 — no DTDs or entities reach the parser
    except ElementTree.ParseError as exc:
        raise ValueError(f"the SVG does not parse: {exc}") from exc
    if root.tag.removeprefix(_SVG_NS) != "svg":
        raise ValueError("the mark's root element is not <svg>")

    def clean(element) -> None:
        for child in list(element):
            if not isinstance(child.tag, str) or child.tag.removeprefix(_SVG_NS) not in SVG_ELEMENTS:
                element.remove(child)
                continue
            clean(child)
        for name in list(element.attrib):
            local = name.removeprefix(_SVG_NS)
            if local not in SVG_ATTRIBUTES or not _SAFE_VALUE.match(element.attrib[name]):
                del element.attrib[name]

    clean(root)
    ElementTree.register_namespace("", _SVG_NS[1:-1])
    return ElementTree.tostring(root, encoding="unicode")


class LogoSpec(Spec):
    """A logo: the name as its text, a mark drawn as SVG (sanitised on validation), colours."""

    kind: Literal["logo"] = "logo"
    name: Line
    mark_svg: str = Field(min_length=10, max_length=20000)
    colours: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=5)

    @field_validator("mark_svg")
    @classmethod
    def _sanitise(cls, value: str) -> str:
        return sanitise_svg(value)


class FeatureSpec(Spec):
    title: Line
    text: Text = ""


class SiteSpec(Spec):
    """A one-site copy deck: hero, features, visit/how-it-works steps, call to action, contact."""

    kind: Literal["site"] = "site"
    headline: Line
    tagline: Line = "Welcome"
    subheadline: Text = ""
    features_heading: Line = "What we offer"
    features: list[FeatureSpec] = Field(default_factory=list, max_length=8)
    steps_heading: Line = "How it works"
    steps: list[FeatureSpec] = Field(default_factory=list, max_length=6)
    cta: Line = "Get in touch"
    closing: Text = ""
    contact_lede: Text = ""
    booking: bool = False


ContentSpec = Annotated[DocumentSpec | SheetSpec | SlidesSpec | LogoSpec | SiteSpec, Field(discriminator="kind")]

# Which output categories each kind of spec can be rendered as.
RENDERS_AS = {
    "document": {"document", "pdf"},
    "sheet": {"spreadsheet"},
    "slides": {"presentation"},
    "logo": {"image"},
    "site": {"website"},
}


class _Envelope(BaseModel):
    spec: ContentSpec


def content_spec(data) -> DocumentSpec | SheetSpec | SlidesSpec | LogoSpec | SiteSpec:
    """A validated spec from a model's JSON (dict) or an already built spec; raises ValueError."""
    if isinstance(data, Spec):
        data = data.model_dump()
    return _Envelope.model_validate({"spec": data}).spec


def generation_fields(spec) -> dict:
    """What the generators read from a spec: ``copy`` (their words), ``options``, ``title``."""
    if isinstance(spec, DocumentSpec):
        copy = {
            "headline": spec.title,
            "subheadline": spec.subtitle or spec.title,
            "sections": [s.model_dump() for s in spec.sections],
            "closing": spec.closing,
            "features": [],
            "metrics": [],
            "tiers": [],
        }
        return {"copy": copy, "options": {}, "title": spec.title}
    if isinstance(spec, SlidesSpec):
        copy = {
            "headline": spec.title,
            "subheadline": spec.subtitle,
            "sections": [{"heading": s.title, "bullets": s.bullets} for s in spec.slides],
            "closing": spec.closing,
            "features": [],
            "metrics": [],
        }
        return {"copy": copy, "options": {"exact_slides": True, "slides": len(spec.slides) + 2}, "title": spec.title}
    if isinstance(spec, SheetSpec):
        return {"copy": {"sheet": True}, "options": {"sheet_spec": spec.model_dump()}, "title": spec.title}
    if isinstance(spec, LogoSpec):
        return {
            "copy": {"headline": spec.name},
            "options": {"mark_svg": spec.mark_svg, "brand": spec.name, "colours": spec.colours},
            "title": f"{spec.name} logo",
        }
    copy = spec.model_dump(exclude={"kind"})
    copy["features"] = [[f.title, f.text] for f in spec.features]
    copy["steps"] = [[s.title, s.text] for s in spec.steps]
    copy["metrics"], copy["quote"] = [], ""
    return {"copy": copy, "options": {}, "title": ""}


def content_spec_schema(kind: str) -> dict:
    """The JSON schema a model is asked to fill for one kind of spec (document, sheet, slides,
    logo, site), e.g. as a tool's input schema."""
    models = {"document": DocumentSpec, "sheet": SheetSpec, "slides": SlidesSpec, "logo": LogoSpec, "site": SiteSpec}
    return models[kind].model_json_schema()
