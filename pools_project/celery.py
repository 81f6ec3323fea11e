"""Celery, the background engine: dispatch, callbacks, health and purges.

With CELERY_BROKER_URL unset (the embedded default) tasks run in-process when
they are enqueued; with it set they run on `celery -A pools_project worker`
processes, and `celery -A pools_project beat` runs the schedules.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pools_project.settings")

app = Celery("pools_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
