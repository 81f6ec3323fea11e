import json

from django.db import migrations, models


def responses_as_text(apps, schema_editor):
    IdempotencyKey = apps.get_model("messaging", "IdempotencyKey")
    for record in IdempotencyKey.objects.exclude(response=None).iterator():
        record.response_body = json.dumps(record.response, separators=(",", ":"))
        record.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_dispatch_connections_and_parts"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="response_body",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
        migrations.RunPython(responses_as_text, migrations.RunPython.noop),
        migrations.RemoveField(model_name="idempotencykey", name="response"),
    ]
