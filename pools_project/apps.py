from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """Django's admin, with the console's site as its default `admin.site`."""

    default_site = "pools_project.console.ConsoleSite"
