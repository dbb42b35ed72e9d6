"""The model's content in the delivered file, per modality, over both wire formats: a real HTTP
server on 127.0.0.1 plays the provider (OpenAI-compatible and Anthropic), the real clients ask
for a content spec with its JSON schema, and output_render writes what came back."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest
from docx import Document
from openpyxl import load_workbook
from pptx import Presentation

from outputs.content import content_spec_schema
from outputs.generators import GenerationRequest
from outputs.services import output_render, output_verify_generated
from providers.adapters.anthropic import AnthropicClient
from providers.adapters.openai import OpenAICompatibleClient
from providers.adapters.transport import RetryPolicy
from providers.contracts import Deliverable, DeliverableBrief
from providers.tests.provider_server import ProviderServer, plan_reply

MARK = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30"/></svg>'

SPECS = {
    "document": (
        "document",
        {
            "kind": "document",
            "title": "Welcome to Ward 7",
            "sections": [{"heading": "Your first shift", "paragraphs": ["Arrive at 07:15 for the handover."]}],
        },
    ),
    "sheet": (
        "spreadsheet",
        {
            "kind": "sheet",
            "title": "Bake sale",
            "columns": ["Stall", "Takings"],
            "rows": [["Brownies", 42], ["Lemonade", 18.5]],
            "totals": True,
        },
    ),
    "slides": (
        "presentation",
        {"kind": "slides", "title": "Allotment AGM", "slides": [{"title": "Water butts", "bullets": ["Two more"]}]},
    ),
    "logo": (
        "image",
        {
            "kind": "logo",
            "name": "Bean There",
            "mark_svg": MARK,
        },
    ),
    "site": ("website", {"kind": "site", "headline": "Muddy Paws grooms dogs in York", "cta": "Book a groom"}),
}


@pytest.fixture
def provider_server(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with ProviderServer() as server:
        yield server


def _client(kind: str, url: str):
    policy = RetryPolicy(max_attempts=1)
    if kind == "anthropic":
        return AnthropicClient(base_url=url, model="claude-x", api_key="k", timeout=5, policy=policy)
    return OpenAICompatibleClient(base_url=url, model="gpt-x", api_key="k", timeout=5, policy=policy)


def _read_back(modality: str, generated) -> str:
    path = generated.primary_path
    if modality == "document":
        return " ".join(p.text for p in Document(str(path)).paragraphs)
    if modality == "sheet":
        ws = load_workbook(path).worksheets[0]
        return " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    if modality == "slides":
        return " ".join(s.shapes.title.text for s in Presentation(str(path)).slides)
    if modality == "logo":
        tree = ElementTree.parse(generated.root_path / "logo.svg")  # noqa: S314 — sanitised by the spec
        return " ".join(t.text or "" for t in tree.iter() if t.tag.endswith("text")) + ElementTree.tostring(
            tree.getroot(), encoding="unicode"
        )
    return (generated.root_path / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
@pytest.mark.parametrize("modality", list(SPECS))
def test_the_models_content_is_in_the_delivered_file(wire, modality, provider_server, tmp_path):
    category, spec = SPECS[modality]
    provider_server.script(plan_reply(wire, spec))
    text = _client(wire, provider_server.url).complete_json(
        system="Write the content for this deliverable.",
        messages=[{"role": "user", "content": "Write it."}],
        schema=content_spec_schema(modality),
    )
    sent = json.dumps(provider_server.seen[-1].body)
    assert '"kind"' in sent, "the spec's schema went to the provider"
    deliverable = Deliverable(id="d1", category=category, title="Output", brief=DeliverableBrief())
    request = GenerationRequest(deliverable=deliverable, options={"width": 320, "height": 180})
    generated = output_render(spec=json.loads(text), request=request, dest_dir=tmp_path, author=f"{wire} test model")
    assert generated.content_source == f"{wire} test model"
    content = _read_back(modality, generated)
    for needle in {
        "document": ["Welcome to Ward 7", "Arrive at 07:15 for the handover."],
        "sheet": ["Brownies", "Lemonade", "=SUM(B4:B5)"],
        "slides": ["Allotment AGM", "Water butts"],
        "logo": ["Bean There", 'r="30"'],
        "site": ["Muddy Paws grooms dogs in York", "Book a groom"],
    }[modality]:
        assert needle in content, (modality, needle)
    assert output_verify_generated(generated=generated).passed
