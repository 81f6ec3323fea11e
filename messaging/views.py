from django.http import HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from messaging.models import ShortLink
from messaging.services.links import CODE_ALPHABET, click_record
from pools_project.api import error_body

CODE_MAX_LENGTH = ShortLink._meta.get_field("code").max_length


def is_link_code(code: str) -> bool:
    """Whether `code` could be a short link's: anything else (a NUL, which PostgreSQL
    refuses in a query, included) is unknown without asking the database."""
    return 0 < len(code) <= CODE_MAX_LENGTH and set(code) <= set(CODE_ALPHABET)


@require_safe
def short_link_redirect(request, code):
    """`/s/<code>`: 302 to the long URL and a recorded click; 410 once expired, 404 unknown."""
    link = None
    if is_link_code(code):
        link = ShortLink.objects.select_related("message").filter(code=code).first()
    if link is None:
        return JsonResponse(error_body("LINK_NOT_FOUND", "No such short link."), status=404)
    if link.expires_at <= timezone.now():
        return JsonResponse(error_body("LINK_EXPIRED", "This short link has expired."), status=410)
    if request.method == "GET":
        click_record(
            link=link,
            ip=request.META.get("REMOTE_ADDR"),
            referrer=request.headers.get("Referer", ""),
            user_agent=request.headers.get("User-Agent", ""),
        )
    return HttpResponseRedirect(link.long_url)
