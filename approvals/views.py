"""Thin views: authorise, parse, call a service, render the dialog or memory partials."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors, services
from approvals.errors import ApprovalRefused
from approvals.forms import ApprovalPreferenceForm, DecisionForm, FormatDefaultForm, StylePreferenceForm

DIALOG = "approvals/partials/approval_dialog.html"


def _dialog(request, approval, *, form=None, error: str = "", status: int = 200):
    context = {"approval": approval, "form": form or DecisionForm(), "error": error}
    if request.htmx:
        # htmx swaps only 2xx answers; the refusal is inside the partial itself.
        return render(request, DIALOG, context)
    return render(request, "approvals/approval_page.html", context, status=status)


@login_required
@require_GET
def approval_index(request):
    return render(
        request,
        "approvals/index.html",
        {
            "pending": selectors.approvals_pending_for_owner(owner=request.user),
            "recent": selectors.approvals_recent_for_owner(owner=request.user),
        },
    )


@login_required
@require_GET
def approval_detail(request, approval_id):
    approval = selectors.approval_get_for_owner(owner=request.user, approval_id=approval_id)
    return _dialog(request, approval)


@login_required
@require_POST
def approval_decide(request, approval_id):
    approval = selectors.approval_get_for_owner(owner=request.user, approval_id=approval_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _dialog(request, approval, form=form, error="Nothing was decided: see below.", status=400)
    data = form.cleaned_data
    try:
        if data["decision"] == "allow":
            approval = services.approval_allow(
                request=approval,
                user=request.user,
                action_hash=data["action_hash"],
                remember=data["remember"],
                command_allowlist=data["allowlist"],
                confirm_high_risk=data["confirm_high_risk"],
            )
        elif data["decision"] == "deny":
            approval = services.approval_deny(
                request=approval,
                user=request.user,
                action_hash=data["action_hash"],
                remember=data["remember"],
                command_allowlist=data["allowlist"],
            )
        else:
            approval = services.approval_refine(
                request=approval, user=request.user, action_hash=data["action_hash"], text=data["refine_text"]
            )
    except ApprovalRefused as refused:
        approval.refresh_from_db()
        return _dialog(request, approval, form=form, error=refused.message, status=409)
    if request.htmx:
        return _dialog(request, approval)
    messages.success(request, f"{approval.get_status_display()}: {approval.title}")
    return redirect(approval.get_absolute_url())


# --- Memory ----------------------------------------------------------------------------------


def _memory_page(request, *, status: int = 200, **forms_and_errors):
    context = {
        "memory": selectors.memory_for_owner(owner=request.user),
        "approval_form": ApprovalPreferenceForm(owner=request.user),
        "format_form": FormatDefaultForm(),
        "style_form": StylePreferenceForm(initial=selectors.style_preferences_for(owner=request.user)),
        **forms_and_errors,
    }
    return render(request, "approvals/memory.html", context, status=status)


@login_required
@require_GET
def memory(request):
    return _memory_page(request)


@login_required
@require_POST
def memory_forget(request, kind: str, item_id: int):
    try:
        services.memory_forget(owner=request.user, kind=kind, item_id=item_id)
    except ObjectDoesNotExist:
        raise Http404("Nothing remembered with that id.")
    if request.htmx:
        return HttpResponse("")
    messages.success(request, "Forgotten. Command will ask or use its usual defaults next time.")
    return redirect("approvals:memory")


@login_required
@require_POST
def memory_add_approval(request):
    form = ApprovalPreferenceForm(request.POST, owner=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            pref = services.approval_preference_set(
                owner=request.user,
                category=data["category"],
                scope=data["scope"],
                decision=data["decision"],
                workspace=data["workspace"],
                command_allowlist=data["allowlist"],
                confirm_high_risk=data["confirm_high_risk"],
            )
        except ApprovalRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, f"Remembered: {pref.sentence}.")
            return redirect("approvals:memory")
    return _memory_page(request, approval_form=form, status=400)


@login_required
@require_POST
def memory_add_format(request):
    form = FormatDefaultForm(request.POST)
    if form.is_valid():
        try:
            item = services.format_default_set(
                owner=request.user, category=form.cleaned_data["category"], format=form.cleaned_data["format"]
            )
        except ApprovalRefused as refused:
            form.add_error("format", refused.message)
        else:
            messages.success(request, f"Remembered: {item}.")
            return redirect("approvals:memory")
    return _memory_page(request, format_form=form, status=400)


@login_required
@require_POST
def memory_set_style(request):
    form = StylePreferenceForm(request.POST)
    if form.is_valid():
        for kind in ("tone", "expertise"):
            if form.cleaned_data.get(kind):
                services.style_preference_set(owner=request.user, kind=kind, value=form.cleaned_data[kind])
        messages.success(request, "Remembered your tone and expertise defaults.")
        return redirect("approvals:memory")
    return _memory_page(request, style_form=form, status=400)
