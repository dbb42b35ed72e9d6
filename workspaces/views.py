"""Workspace pages: thin views that authorise, call a selector or service, and render a partial."""

from __future__ import annotations

import mimetypes
import stat

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from workspaces import diffs, forms, paths, selectors, services
from workspaces.models import Actor, RollbackPoint, Workspace

PREVIEW_SALT = "workspaces.preview"
PREVIEW_MAX_AGE = 12 * 3600
SAFE_PREVIEW_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
}
# The preview is a separate, opaque origin (sandbox without allow-same-origin): its scripts can
# neither read Command's pages nor call its API with the operator's session.
PREVIEW_CSP = (
    "sandbox allow-scripts allow-forms allow-popups; default-src 'self' data: blob:; "
    "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; media-src 'self' data: blob:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'self'"
)


def _root_or_none(workspace):
    status = services.workspace_status(workspace=workspace)
    return (services.workspace_root(workspace=workspace) if status.available else None), status


def _page(request, template: str, context: dict, *, status: int = 200):
    return render(request, template, context, status=status)


def _refused(request, message: str, status: int = 400):
    return render(request, "workspaces/partials/problem.html", {"message": message}, status=status)


# --- list and lifecycle ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def index(request):
    create_form = forms.CreateForm(prefix="create")
    register_form = forms.RegisterForm(prefix="register")
    import_form = forms.ImportForm(prefix="import")
    status_code = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                create_form = forms.CreateForm(request.POST, prefix="create")
                if create_form.is_valid():
                    workspace = services.workspace_create(owner=request.user, name=create_form.cleaned_data["name"])
                    messages.success(request, f"Created {workspace.name} at {workspace.path}.")
                    return redirect("workspaces:detail", workspace_id=workspace.pk)
            elif action == "register":
                register_form = forms.RegisterForm(request.POST, prefix="register")
                if register_form.is_valid():
                    workspace = services.workspace_register(
                        owner=request.user,
                        path=register_form.cleaned_data["path"],
                        name=register_form.cleaned_data["name"],
                    )
                    messages.success(request, f"Registered {workspace.path}.")
                    return redirect("workspaces:detail", workspace_id=workspace.pk)
            elif action == "import":
                import_form = forms.ImportForm(request.POST, request.FILES, prefix="import")
                if import_form.is_valid():
                    result = services.workspace_import_zip(
                        owner=request.user,
                        name=import_form.cleaned_data["name"],
                        archive=import_form.cleaned_data["archive"],
                    )
                    note = f"Imported {result.files} files ({diffs.human_size(result.total_bytes)})."
                    if result.skipped:
                        note += f" Not extracted: {', '.join(result.skipped[:5])}."
                    messages.success(request, note)
                    return redirect("workspaces:detail", workspace_id=result.workspace.pk)
            else:
                return HttpResponseBadRequest("Unknown action.")
        except services.WorkspaceError as exc:
            form = {"create": create_form, "register": register_form, "import": import_form}[action]
            form.add_error(None, str(exc))
        status_code = 400
    workspaces = list(selectors.workspace_list(user=request.user))
    rows = [(w, services.workspace_status(workspace=w)) for w in workspaces]
    return _page(
        request,
        "workspaces/index.html",
        {
            "rows": rows,
            "create_form": create_form,
            "register_form": register_form,
            "import_form": import_form,
            "roots": settings.COMMAND_WORKSPACE_ROOTS,
        },
        status=status_code,
    )


@login_required
@require_GET
def detail(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    root, status = _root_or_none(workspace)
    tree = None
    has_site = False
    if root:
        tree = selectors.tree_list(root=root, path="")
        has_site = any(e.name == "index.html" and e.kind == "file" for e in tree.entries)
    return _page(
        request,
        "workspaces/detail.html",
        {
            "workspace": workspace,
            "status": status,
            "tree": tree,
            "changes": selectors.change_list(workspace=workspace, page_number=request.GET.get("changes", 1)),
            "points": selectors.rollback_point_list(workspace=workspace, page_number=request.GET.get("points", 1)),
            "runs": selectors.runs_with_changes(workspace=workspace),
            "has_site": has_site,
            "preview_url": _preview_url(workspace, "index.html") if has_site else "",
            "relink_form": forms.RelinkForm(),
        },
    )


@login_required
@require_POST
def relink(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    form = forms.RelinkForm(request.POST)
    if form.is_valid():
        try:
            services.workspace_relink(workspace=workspace, path=form.cleaned_data["path"])
            messages.success(request, f"Relinked to {workspace.path}.")
        except services.WorkspaceError as exc:
            messages.error(request, str(exc))
    return redirect("workspaces:detail", workspace_id=workspace.pk)


@login_required
@require_POST
def forget(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    name = workspace.name
    services.workspace_forget(workspace=workspace)
    messages.success(request, f"Forgot {name}. Its folder was not touched.")
    return redirect("workspaces:index")


# --- tree, viewer, editor ----------------------------------------------------------------------


def _available_root(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    root, status = _root_or_none(workspace)
    if root is None:
        raise services.WorkspaceUnavailable(status)
    return workspace, root


@login_required
@require_GET
def tree(request, workspace_id):
    try:
        workspace, root = _available_root(request, workspace_id)
        listing = selectors.tree_list(
            root=root, path=request.GET.get("path", ""), page_number=request.GET.get("page", 1)
        )
    except (paths.PathRefused, services.WorkspaceUnavailable) as exc:
        return _refused(request, str(exc))
    except (FileNotFoundError, NotADirectoryError):
        return _refused(request, "That folder does not exist (any more).", status=404)
    return render(request, "workspaces/partials/tree.html", {"workspace": workspace, "tree": listing})


@login_required
@require_GET
def file(request, workspace_id):
    try:
        workspace, root = _available_root(request, workspace_id)
        view = selectors.file_view(root=root, path=request.GET.get("path", ""))
    except (paths.PathRefused, services.WorkspaceUnavailable) as exc:
        return _refused(request, str(exc))
    except FileNotFoundError:
        return _refused(request, "That file does not exist (any more).", status=404)
    except IsADirectoryError:
        return _refused(request, "That is a folder, not a file.")
    template = "workspaces/partials/file.html" if request.htmx else "workspaces/file_page.html"
    return render(request, template, {"workspace": workspace, "file": view, "editing": "edit" in request.GET})


@login_required
@require_POST
def file_save(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    form = forms.EditorForm(request.POST)
    if not form.is_valid():
        return _refused(request, "The editor sent an incomplete form; nothing was saved.")
    data = form.cleaned_data
    try:
        change = services.file_save_from_editor(
            workspace=workspace,
            path=data["path"],
            content=data["content"],
            base_sha=data["base_sha"],
            user=request.user,
        )
    except services.EditConflict as conflict:
        disk_text = None
        if conflict.current is not None and not diffs.is_binary(conflict.current):
            disk_text = conflict.current.decode("utf-8")
        diff = diffs.compute(conflict.path, conflict.current, conflict.attempted)
        return render(
            request,
            "workspaces/partials/conflict.html",
            {
                "workspace": workspace,
                "path": conflict.path,
                "disk_text": disk_text,
                "disk_exists": conflict.current is not None,
                "current_sha": conflict.current_sha,
                "attempted": data["content"],
                "hunks": diffs.parse(diff.text),
            },
            status=409,
        )
    except (paths.PathRefused, services.WorkspaceUnavailable) as exc:
        return _refused(request, str(exc))
    root = services.workspace_root(workspace=workspace)
    view = selectors.file_view(root=root, path=data["path"])
    note = change.summary if change else "No changes to save."
    return render(
        request,
        "workspaces/partials/file.html",
        {"workspace": workspace, "file": view, "editing": False, "saved_note": note, "change": change},
    )


# --- changes and diffs -------------------------------------------------------------------------


@login_required
@require_GET
def changes(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    page = selectors.change_list(workspace=workspace, page_number=request.GET.get("changes", 1))
    return render(request, "workspaces/partials/changes.html", {"workspace": workspace, "changes": page})


@login_required
@require_GET
def change(request, workspace_id, change_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    item = selectors.change_get(workspace=workspace, change_id=change_id)
    layout = "split" if request.GET.get("layout") == "split" else "inline"
    context = {
        "workspace": workspace,
        "change": item,
        "hunks": diffs.parse(item.diff),
        "layout": layout,
        "before_size": diffs.human_size(item.before_size),
        "after_size": diffs.human_size(item.after_size),
    }
    template = "workspaces/partials/diff.html" if request.htmx else "workspaces/change_page.html"
    return render(request, template, context)


# --- rollback ----------------------------------------------------------------------------------


@login_required
@require_POST
def checkpoint(request, workspace_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    try:
        point = services.rollback_point_create(
            workspace=workspace,
            kind=RollbackPoint.Kind.MANUAL,
            note=request.POST.get("note", "")[:300],
            actor=Actor.OPERATOR,
            user=request.user,
        )
        messages.success(request, f"Checkpoint #{point.pk} saved: {point.scope_label}.")
    except (services.WorkspaceUnavailable, paths.PathRefused) as exc:
        messages.error(request, f"No checkpoint was taken: {exc}")
    return redirect(reverse("workspaces:detail", kwargs={"workspace_id": workspace.pk}) + "#rollback")


@login_required
@require_http_methods(["GET", "POST"])
def point_revert(request, workspace_id, point_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    point = selectors.rollback_point_get(workspace=workspace, point_id=point_id)
    outcome = None
    if request.method == "POST":
        form = forms.RevertForm(request.POST)
        form.is_valid()
        try:
            outcome = services.rollback_point_revert(
                point=point, user=request.user, confirm_overwrite=form.cleaned_data.get("confirm_overwrite", False)
            )
        except (services.RevertRefused, paths.PathRefused) as exc:
            return _refused(request, str(exc), status=409)
        eligibility = outcome.eligibility
    else:
        eligibility = services.rollback_point_eligibility(point=point)
    return render(
        request,
        "workspaces/partials/revert.html",
        {
            "workspace": workspace,
            "point": point,
            "eligibility": eligibility,
            "outcome": outcome,
            "action": reverse("workspaces:point_revert", kwargs={"workspace_id": workspace.pk, "point_id": point.pk}),
            "title": f"Revert to {point.get_kind_display().lower()} #{point.pk}",
        },
        status=409 if outcome is not None and not outcome.done else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def run_revert(request, workspace_id, run_id):
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    if not workspace.file_changes.filter(run_id=run_id).exists():
        raise Http404("No changes by that run here.")
    outcome = None
    if request.method == "POST":
        form = forms.RevertForm(request.POST)
        form.is_valid()
        try:
            outcome = services.run_revert(
                workspace=workspace,
                run_id=run_id,
                user=request.user,
                confirm_overwrite=form.cleaned_data.get("confirm_overwrite", False),
            )
        except (services.WorkspaceUnavailable, paths.PathRefused) as exc:
            return _refused(request, str(exc), status=409)
        eligibility = outcome.eligibility
    else:
        eligibility = services.run_revert_eligibility(workspace=workspace, run_id=run_id)
    return render(
        request,
        "workspaces/partials/revert.html",
        {
            "workspace": workspace,
            "point": None,
            "eligibility": eligibility,
            "outcome": outcome,
            "action": reverse("workspaces:run_revert", kwargs={"workspace_id": workspace.pk, "run_id": run_id}),
            "title": f"Undo everything RUN-{run_id:03d} changed",
        },
        status=409 if outcome is not None and not outcome.done else 200,
    )


# --- site preview ------------------------------------------------------------------------------


def _preview_url(workspace, rel: str) -> str:
    token = signing.dumps({"w": str(workspace.pk), "u": workspace.owner_id}, salt=PREVIEW_SALT, compress=True)
    return reverse("workspaces:preview_file", kwargs={"workspace_id": workspace.pk, "token": token, "rel": rel})


@login_required
@require_GET
def preview(request, workspace_id):
    """The owner's entry to the preview: redirects to a short-lived capability URL.

    The preview runs in a sandboxed (opaque-origin) iframe, so its sub-requests carry no session
    cookie; they are authorised by the signed token in the path instead, issued only to the owner.
    """
    workspace = selectors.workspace_get(user=request.user, workspace_id=workspace_id)
    return redirect(_preview_url(workspace, request.GET.get("path", "index.html") or "index.html"))


@xframe_options_sameorigin
@require_GET
def preview_file(request, workspace_id, token, rel):
    try:
        claims = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        raise Http404("This preview link is not valid (or has expired).") from None
    if claims.get("w") != str(workspace_id):
        raise Http404("This preview link is for another workspace.")
    if request.user.is_authenticated and request.user.pk != claims.get("u"):
        raise Http404("Not your workspace.")
    workspace = Workspace.objects.filter(pk=workspace_id, owner_id=claims.get("u")).first()
    if workspace is None:
        raise Http404("No such workspace.")
    root, status = _root_or_none(workspace)
    if root is None:
        return _preview_response(HttpResponse(status.message, status=503, content_type="text/plain; charset=utf-8"))
    try:
        clean = paths.normalise(rel, allow_root=True)
        info = paths.lstat(root, clean) if clean else None
        if not clean or (info is not None and stat.S_ISDIR(info.st_mode)):
            clean = f"{clean}/index.html" if clean else "index.html"
        data = paths.read_bytes(root, clean, limit=50 * 1024 * 1024)
    except paths.PathRefused as exc:
        return _preview_response(HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return _preview_response(HttpResponse("Not found in this workspace.", status=404, content_type="text/plain"))
    suffix = "." + clean.rsplit(".", 1)[-1].lower() if "." in clean.rsplit("/", 1)[-1] else ""
    content_type = SAFE_PREVIEW_TYPES.get(suffix)
    response = HttpResponse(data, content_type=content_type or "application/octet-stream")
    if content_type is None:
        guessed = mimetypes.guess_type(clean)[0] or "unknown type"
        response["Content-Disposition"] = f'attachment; filename="{clean.rsplit("/", 1)[-1][:100]}"'
        response["X-Command-Note"] = f"Not previewed ({guessed}): offered as a download."
    return _preview_response(response)


def _preview_response(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = PREVIEW_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
