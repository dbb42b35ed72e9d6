from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def index(request):
    # Placeholder until this app's issue lands: says plainly that the page is not live yet.
    return render(
        request,
        "command_site/not_yet.html",
        {
            "page_title": "Model providers",
            "explanation": (
                "Connecting OpenAI-compatible or Anthropic providers is not live in this "
                "build yet. Command uses nothing but its built-in, rule-based planner."
            ),
        },
    )
