from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def library(request):
    # Placeholder until this app's issue lands: says plainly that the page is not live yet.
    return render(
        request,
        "command_site/not_yet.html",
        {
            "page_title": "Assets",
            "explanation": "Generated outputs and the asset library are not live in this build yet.",
        },
    )
