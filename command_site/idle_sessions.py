"""Idle session timeout: a signed-in session unused for COMMAND_SESSION_IDLE_SECONDS is signed out.

Any request of the session counts as use. The time of last use is kept in the session and
written at most once a minute, so pages that poll do not write the session on every request.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

LAST_SEEN = "command_last_seen"
# Seconds between writes of the last-seen time (the timeout is exact to within this).
WRITE_EVERY = 60


class IdleSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        idle = settings.COMMAND_SESSION_IDLE_SECONDS
        if idle and request.user.is_authenticated:
            now = int(time.time())
            seen = request.session.get(LAST_SEEN)
            if seen is not None and now - seen > idle:
                logout(request)
                minutes = max(1, idle // 60)
                messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            elif seen is None or now - seen >= min(WRITE_EVERY, idle):
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class IdleSessionWebsocketMiddleware:
    """The same rule for websockets (inside channels' AuthMiddlewareStack): a socket opened with an
    idle session is treated as signed out (the consumer then closes it with its sign-in code)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        idle = settings.COMMAND_SESSION_IDLE_SECONDS
        user = scope.get("user")
        if idle and user is not None and user.is_authenticated:
            from channels.db import database_sync_to_async
            from django.contrib.auth.models import AnonymousUser

            seen = await database_sync_to_async(scope["session"].get)(LAST_SEEN)
            if seen is not None and int(time.time()) - seen > idle:
                scope = {**scope, "user": AnonymousUser()}
        return await self.application(scope, receive, send)
