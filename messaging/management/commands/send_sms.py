import json

from django.core.management.base import BaseCommand, CommandError

from messaging.serializers import MessageSerializer
from messaging.services.sending import message_send
from pools.choices import Strategy
from pools.selectors import pool_by_reference
from pools_project.errors import ServiceError


class Command(BaseCommand):
    help = "Send one SMS through a pool and print the send response as JSON."

    # For operators and scripts: the same selection service and send path as
    # POST /pools/my/{poolId}/sms, without an API key.

    def add_arguments(self, parser):
        parser.add_argument("--pool", required=True, help="The pool's id or name.")
        parser.add_argument("--to", required=True, help="The recipient, E.164.")
        parser.add_argument("--body", required=True)
        parser.add_argument(
            "--media-url", action="append", default=[], dest="media_urls", help="Makes it an MMS."
        )
        parser.add_argument("--strategy", choices=Strategy.values, default=Strategy.NUMERIC)

    def handle(self, *args, **options):
        if not options["body"]:
            raise CommandError("The body is empty.")
        try:
            message = message_send(
                pool=pool_by_reference(options["pool"]),
                to=options["to"],
                body=options["body"],
                strategy=options["strategy"],
                media_urls=options["media_urls"],
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(json.dumps(MessageSerializer(message).data, indent=2))
