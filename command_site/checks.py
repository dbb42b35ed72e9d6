"""System checks that guard configuration the settings module cannot see on its own."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def q_cluster_is_safe(app_configs, **kwargs):
    """django-q2 re-delivers a task after `retry` seconds: it must outlast `timeout`."""
    cluster = settings.Q_CLUSTER
    errors = []
    if cluster.get("timeout") is None or cluster.get("retry") is None:
        errors.append(Error("Q_CLUSTER must set both timeout and retry.", id="command.E001"))
    elif cluster["timeout"] >= cluster["retry"]:
        errors.append(
            Error(
                f"Q_CLUSTER timeout ({cluster['timeout']}s) must be shorter than retry "
                f"({cluster['retry']}s), or a running task is handed to a second worker.",
                id="command.E002",
            )
        )
    if not cluster.get("max_attempts"):
        errors.append(Error("Q_CLUSTER max_attempts must be set (0 means retry forever).", id="command.E003"))
    if cluster.get("orm") != "default":
        errors.append(Error("Q_CLUSTER must use the ORM broker on the default database.", id="command.E004"))
    return errors


@register()
def commands_are_sandboxed(app_configs, **kwargs):
    """Say at start-up when commands would run unsandboxed (bwrap missing, refused, or turned off)."""
    from command_site.sandbox import sandbox_status

    status = sandbox_status()
    if status.sandboxed:
        return []
    if settings.COMMAND_SANDBOX == "off":
        hint = "Set COMMAND_SANDBOX=on (the default) to run commands in the sandbox."
    else:
        hint = (
            "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a host or container that allows "
            "namespaces; every command's approval and /health say “runs unsandboxed” until then."
        )
    return [Warning(f"Commands run unsandboxed: {status.detail}.", hint=hint, id="command.W010")]
