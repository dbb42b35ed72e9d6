"""The landing prompt surface: capture exactly as typed, explain bad input, keep what was typed."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import Task
from workspaces.models import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_anonymous_visitor_sees_the_product_and_a_sign_in_call(anon_client):
    response = anon_client.get("/")
    assert response.status_code == 200
    assert b"Create an account" in response.content
    assert b"<textarea" not in response.content


def test_anonymous_post_stores_nothing(anon_client):
    response = anon_client.post("/", {"prompt": "make me a site"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert Task.objects.count() == 0


def test_submit_stores_the_request_exactly_as_typed(owner_client, owner):
    prompt = "  creat a premium B2B landng page for 'Acme Analytics'\n+ a pdf proposel  "
    response = owner_client.post(
        "/", {"prompt": prompt, "mode": "create", "expertise": "expert", "tone": "professional"}
    )
    task = Task.objects.get()
    assert response.status_code == 302
    # The request opens in its thread, in the operator workspace.
    assert response["Location"] == f"/command/{task.id}/"
    assert task.raw_prompt == prompt
    assert task.owner == owner
    # Understood and planned within the request, and its run queued at once.
    assert (task.mode, task.expertise, task.tone, task.status) == ("create", "expert", "professional", "queued")
    assert task.runs.get().state == "queued"
    page = owner_client.get(response["Location"])
    assert page.status_code == 200
    assert b"landng page for &#x27;Acme Analytics&#x27;" in page.content


def test_recent_tasks_are_listed(owner_client, owner):
    for text in ("first request", "second request"):
        owner_client.post("/", {"prompt": text, "mode": "create", "expertise": "new", "tone": "mixed"})
    content = owner_client.get("/").content.decode()
    assert content.index("second request") < content.index("first request")


@pytest.mark.parametrize("prompt", ["", "   \n  "])
def test_empty_prompt_is_refused_with_a_reason(owner_client, prompt):
    response = owner_client.post("/", {"prompt": prompt, "mode": "create", "expertise": "new", "tone": "mixed"})
    assert response.status_code == 400
    assert b"the request is empty" in response.content
    assert Task.objects.count() == 0


def test_oversized_prompt_is_refused_and_kept(owner_client, settings):
    settings.COMMAND_PROMPT_MAX_CHARS = 200
    prompt = "build a site " * 30
    response = owner_client.post("/", {"prompt": prompt, "mode": "create", "expertise": "new", "tone": "mixed"})
    assert response.status_code == 400
    assert b"the limit is 200" in response.content
    assert prompt.encode() in response.content  # what was typed is still in the box
    assert Task.objects.count() == 0


def test_valid_upload_is_stored_with_its_hash(owner_client):
    upload = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    owner_client.post(
        "/", {"prompt": "use this logo", "mode": "create", "expertise": "new", "tone": "mixed", "uploads": [upload]}
    )
    stored = Task.objects.get().uploads.get()
    assert stored.original_name == "logo.png"
    assert stored.content_type == "image/png"
    assert stored.size == len(PNG)
    assert stored.file.read() == PNG


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("tool.exe", b"MZ\x90\x00", b"are not accepted"),
        ("logo.png", b"GIF89a not a png", b"does not contain what its name says"),
        ("notes.txt", b"\x00\x01\x02binary", b"does not look like a text file"),
        ("empty.pdf", b"", b"is empty"),
    ],
)
def test_rejected_upload_keeps_the_prompt_and_saves_nothing(owner_client, name, content, reason):
    upload = SimpleUploadedFile(name, content)
    response = owner_client.post(
        "/", {"prompt": "keep me please", "mode": "create", "expertise": "new", "tone": "mixed", "uploads": [upload]}
    )
    assert response.status_code == 400
    assert reason in response.content
    assert b"keep me please" in response.content
    assert b"choose the files again" in response.content
    assert Task.objects.count() == 0


def test_oversized_upload_is_refused(owner_client, settings):
    settings.COMMAND_UPLOAD_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.txt", b"a" * 2048)
    response = owner_client.post(
        "/", {"prompt": "x", "mode": "create", "expertise": "new", "tone": "mixed", "uploads": [upload]}
    )
    assert response.status_code == 400
    assert b"the limit is" in response.content


def test_too_many_uploads_are_refused(owner_client, settings):
    settings.COMMAND_UPLOAD_MAX_FILES = 2
    files = [SimpleUploadedFile(f"n{i}.txt", b"hello") for i in range(3)]
    response = owner_client.post(
        "/", {"prompt": "x", "mode": "create", "expertise": "new", "tone": "mixed", "uploads": files}
    )
    assert response.status_code == 400
    assert b"at most 2" in response.content


def test_workspace_of_another_user_cannot_be_chosen(owner_client, other_user):
    theirs = Workspace.objects.create(owner=other_user, name="theirs", path="/tmp/theirs")
    response = owner_client.post(
        "/", {"prompt": "edit it", "mode": "edit", "expertise": "new", "tone": "mixed", "workspace": str(theirs.id)}
    )
    assert response.status_code == 400
    assert Task.objects.count() == 0


def test_unknown_choice_is_refused(owner_client):
    response = owner_client.post("/", {"prompt": "x", "mode": "destroy", "expertise": "new", "tone": "mixed"})
    assert response.status_code == 400
    assert Task.objects.count() == 0


def test_upload_bytes_are_read_in_chunks_not_trusted_from_the_name(owner_client):
    # A real PDF header under a .pdf name is accepted even when sent as octet-stream.
    pdf = io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    upload = SimpleUploadedFile("brief.pdf", pdf.getvalue(), content_type="application/octet-stream")
    owner_client.post(
        "/", {"prompt": "read this", "mode": "explain", "expertise": "new", "tone": "mixed", "uploads": [upload]}
    )
    assert Task.objects.get().uploads.get().content_type == "application/pdf"


def _form_defaults(html: str) -> dict[str, str]:
    """What a browser would send for the request form untouched: checked radios, selected options, hidden inputs."""
    from html.parser import HTMLParser

    class Defaults(HTMLParser):
        def __init__(self):
            super().__init__()
            self.values, self.select = {}, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name") in ("tone", "expertise", "mode"):
                if a.get("type") == "hidden" or (a.get("type") == "radio" and "checked" in a):
                    self.values[a["name"]] = a.get("value", "")
            elif tag == "select":
                self.select = a.get("name")
            elif tag == "option" and self.select in ("tone", "expertise") and "selected" in a:
                self.values[self.select] = a.get("value", "")

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None

    parser = Defaults()
    parser.feed(html)
    return parser.values


def test_tone_and_expertise_saved_on_the_memory_page_are_a_new_requests_defaults(owner_client, owner):
    from approvals.services import style_preference_set
    from tasks.models import Task
    from tasks.services import task_submit

    style_preference_set(owner=owner, kind="tone", value="professional")
    style_preference_set(owner=owner, kind="expertise", value="expert")
    for page in ("/", "/command/"):
        defaults = _form_defaults(owner_client.get(page).content.decode())
        assert defaults.get("tone") == "professional" and defaults.get("expertise") == "expert", (page, defaults)
        owner_client.post("/", {"prompt": f"a logo from {page}", **defaults})
        task = Task.objects.get(raw_prompt=f"a logo from {page}")
        assert (task.tone, task.expertise) == ("professional", "expert")
    assert task_submit(owner=owner, prompt="a memo").tone == "professional"
