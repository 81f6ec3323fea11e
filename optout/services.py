import unicodedata
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from accounts.models import Account
from optout.defaults import default_keywords
from optout.models import Keyword, OptOut, OptOutEvent

ACCOUNT_WIDE = ""  # OptOut.number for a STOPALL: every number of the account


def keywords_seed_defaults(*, account: Account) -> None:
    Keyword.objects.bulk_create(
        [Keyword(account=account, **keyword) for keyword in default_keywords()],
        ignore_conflicts=True,
    )


def normalise(text: str) -> str:
    """Trimmed, trailing punctuation dropped, inner spaces collapsed, case-folded."""
    text = " ".join(text.split())
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    return text.casefold()


def keyword_match(*, account: Account, body: str, country: str) -> Keyword | None:
    """The keyword the whole message is, among the account's general ones and those of
    the sender's country; None for anything else ("please stop", "STOPPING")."""
    text = normalise(body)
    if not text:
        return None
    keywords = Keyword.objects.filter(account=account, country__in=["", country])
    # The country's own keyword wins over a general one of the same word.
    for keyword in sorted(keywords, key=lambda k: k.country == ""):
        if normalise(keyword.word) == text:
            return keyword
    return None


def _audit(account, recipient, number, change, source, user, keyword):
    OptOutEvent.objects.create(
        account=account,
        recipient=recipient,
        number=number,
        change=change,
        source=source,
        user=user,
        keyword=keyword,
    )


@transaction.atomic
def optout_record(
    *,
    account: Account,
    recipient: str,
    number: str = ACCOUNT_WIDE,
    source: str = OptOut.Source.KEYWORD,
    user=None,
    keyword: str = "",
) -> bool:
    """Record that `recipient` stops hearing from `number` (every number if empty).

    True if it is new; False if it was already recorded (a repeated STOP).
    """
    try:
        with transaction.atomic():
            OptOut.objects.create(
                account=account, recipient=recipient, number=number, source=source
            )
    except IntegrityError:
        return False
    _audit(account, recipient, number, OptOutEvent.Change.ADDED, source, user, keyword)
    return True


@transaction.atomic
def optout_remove(
    *,
    account: Account,
    recipient: str,
    numbers: Iterable[str],
    source: str = OptOut.Source.KEYWORD,
    user=None,
    keyword: str = "",
) -> int:
    """Remove the recipient's opt-outs of these numbers ("" is the account-wide one)."""
    removed = list(
        OptOut.objects.select_for_update().filter(
            account=account, recipient=recipient, number__in=list(numbers)
        )
    )
    OptOut.objects.filter(pk__in=[o.pk for o in removed]).delete()
    for optout in removed:
        _audit(account, recipient, optout.number, OptOutEvent.Change.REMOVED, source, user, keyword)
    return len(removed)
