from django.apps import AppConfig


class CommandSiteConfig(AppConfig):
    name = "command_site"
    verbose_name = "Command"

    def ready(self) -> None:
        from command_site import checks  # noqa: F401  (registers system checks)
