from django.conf import settings


def product(request):
    """Values every page needs: the product name and which optional logins are configured."""
    return {
        "product_name": "Command",
        "oauth_configured": bool(settings.SOCIALACCOUNT_PROVIDERS),
    }
