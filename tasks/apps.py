from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks and runs"

    def ready(self) -> None:
        from tasks.engine.capabilities import install

        install()
