from django.apps import AppConfig


class CommandSiteConfig(AppConfig):
    name = "command_site"
    verbose_name = "Command"

    def ready(self) -> None:
        from django.urls import register_converter

        from command_site import checks  # noqa: F401  (registers system checks)
        from command_site.converters import DatabaseIdConverter

        # Before any URLconf is loaded: every app's urls.py uses <id:…> for database ids.
        register_converter(DatabaseIdConverter, "id")
