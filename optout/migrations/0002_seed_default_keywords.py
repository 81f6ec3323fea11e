from django.db import migrations

from optout.defaults import default_keywords


def seed(apps, schema_editor):
    """Accounts that exist when keywords arrive get the defaults; new ones get them on creation."""
    Account = apps.get_model("accounts", "Account")
    Keyword = apps.get_model("optout", "Keyword")
    Keyword.objects.bulk_create(
        [
            Keyword(account=account, **keyword)
            for account in Account.objects.all()
            for keyword in default_keywords()
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("optout", "0001_initial"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
