from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Account
from optout.services import keywords_seed_defaults


@receiver(post_save, sender=Account, dispatch_uid="optout_seed_keywords")
def seed_keywords(sender, instance, created, raw=False, **kwargs):
    """Every new account starts with the default keywords, however it was created."""
    if created and not raw:
        keywords_seed_defaults(account=instance)
