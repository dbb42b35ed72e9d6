from django.conf import settings


def product(request):
    """Values every page needs: the product name and which optional logins are configured."""
    return {
        "product_name": "Command",
        "oauth_configured": bool(settings.SOCIALACCOUNT_PROVIDERS),
        # Without a mail server, e-mail is written to an outbox folder: pages that mention e-mail say so.
        "mail_to_outbox": settings.EMAIL_BACKEND == "command_site.mail.OutboxEmailBackend",
    }
