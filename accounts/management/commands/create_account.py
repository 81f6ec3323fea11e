import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import account_create_with_key


class Command(BaseCommand):
    """Onboard a tenant from a shell or a provisioning script, without the admin.

    The output is one JSON object so scripts can read the API key, which is shown only
    here: the database keeps its hash. Running it again for the same name issues
    another key for the existing account, which is how a lost key is replaced.
    """

    help = (
        "Create the account NAME, or reuse it, and issue it a new API key. Prints "
        '{"account", "accountId", "apiKey", "webhookSecret"} as JSON.'
    )

    def add_arguments(self, parser):
        parser.add_argument("name", metavar="NAME", help="The account's unique name.")

    def handle(self, *args, name, **options):
        name = name.strip()
        max_length = Account._meta.get_field("name").max_length
        if not name or len(name) > max_length:
            raise CommandError(f"NAME must be 1 to {max_length} characters.")
        account, issued = account_create_with_key(name=name, key_name="create_account")
        output = {
            "account": account.name,
            "accountId": str(account.pk),
            "apiKey": issued.raw_key,
            "webhookSecret": account.webhook_secret,
        }
        self.stdout.write(self.style.SUCCESS(json.dumps(output)))
