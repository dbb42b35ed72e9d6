from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def memory(request):
    # Placeholder until this app's issue lands: says plainly that the page is not live yet.
    return render(
        request,
        "command_site/not_yet.html",
        {
            "page_title": "Memory",
            "explanation": "Remembered approvals and preferences are not live yet. Nothing is remembered.",
        },
    )
