from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messages"

    def ready(self):
        # Work is enqueued by task name: in-process (no broker) the name must be known
        # to this process's Celery app, not only to the workers'.
        from messaging import tasks  # noqa: F401
