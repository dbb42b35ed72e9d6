"""Sign-up and sign-in rules on top of django-allauth.

- The failed-login limit counts per client address *and* account together: someone guessing
  alice's password from their machine locks out their machine, not alice (allauth's own key is
  the account alone). The per-address limit (ACCOUNT_RATE_LIMITS) still bounds any one client.
- Sign-up never tells whether an address already has an account: a new address and a taken one
  get the same answer ("check your e-mail"), and neither is signed in by the form. The new
  account's owner gets a confirmation e-mail (and may sign in with their password at once, as
  e-mail verification is optional by default); a taken address's owner gets an e-mail saying
  someone tried to sign up with it.
"""

from __future__ import annotations

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.internal.flows.login import perform_login
from allauth.account.internal.flows.signup import complete_signup
from allauth.account.models import Login
from django.core.exceptions import ValidationError

_VERIFY = app_settings.EmailVerificationMethod.MANDATORY


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        return f"{self.get_client_ip(request)}|{super()._get_login_attempts_cache_key(request, **credentials)}"


class SignupForm(AllauthSignupForm):
    def validate_unique_email(self, value):
        try:
            return super().validate_unique_email(value)
        except ValidationError:
            # allauth says "already registered" unless verification is mandatory: say nothing.
            self.account_already_exists = True
            return value

    def try_save(self, request):
        email = self.cleaned_data.get("email")
        if self.account_already_exists:
            login = Login(user=None, email=email, signup=True, email_verification=_VERIFY)
            return None, perform_login(request, login)
        user = self.save(request)
        # The same answer as for a taken address: the confirmation e-mail is sent, nobody is signed in.
        return user, complete_signup(request, user=user, email_verification=_VERIFY)
