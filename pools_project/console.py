"""The console's admin site: a dashboard for its index, and the apps in an operator's order.

The default site (`pools_project.apps.ConsoleAdminConfig`), so every `admin.register`
and every `admin:` URL is this site's.
"""

from django.contrib import admin

from pools_project.dashboard import account_days, unrouted_figure

# The apps operators work in, in the order of their day.
OPERATOR_APPS = ["pools", "numbers", "messaging", "optout", "carriers"]
# Set up once and seldom visited: after everything else, Django's groups last.
ADMINISTRATION_APPS = ["accounts", "axes", "auth"]


def app_rank(app_label: str) -> int:
    if app_label in OPERATOR_APPS:
        return OPERATOR_APPS.index(app_label)
    if app_label in ADMINISTRATION_APPS:
        return len(OPERATOR_APPS) + 1 + ADMINISTRATION_APPS.index(app_label)
    return len(OPERATOR_APPS)  # an app not named here: between the two


class ConsoleSite(admin.AdminSite):
    site_header = "Number Pools"
    site_title = "Number Pools"
    index_title = "Pools, numbers and API keys"
    # The app list is one click away (Home); at 1366 px its sidebar would take the width
    # the lists need.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        # Also the sidebar's list. The sort is stable: apps of one rank stay by name.
        apps = super().get_app_list(request, app_label)
        return sorted(apps, key=lambda app: app_rank(app["app_label"]))

    def index(self, request, extra_context=None):
        viewable = {
            model
            for model, model_admin in self._registry.items()
            if model_admin.has_view_permission(request)
        }
        context = {
            "account_days": account_days(user=request.user, viewable=viewable),
            "unrouted": unrouted_figure(user=request.user, viewable=viewable),
        }
        return super().index(request, {**context, **(extra_context or {})})
