"""Write to one of the service's numbers as a person would, without a carrier.

Trying STOP, START, HELP or a question otherwise means signing a carrier webhook by
hand. This goes through the handler a carrier's webhook calls, so keywords, opt-outs,
auto-replies, forwarding to the pool's inbound callback and conversation stickiness all
happen as they would for a real reply. Numbers whose messages leave through a real
provider are refused: the auto-reply would reach whoever has the `--from` number.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from messaging.models import Message
from messaging.services.inbound import InboundResult, inbound_simulate
from pools_project.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Write to one of the service's numbers as a person would: keywords, opt-outs, "
        "auto-replies and forwarding happen as for a carrier's inbound webhook. Prints the "
        "action taken and the auto-reply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", required=True, dest="sender", help="The person, E.164.")
        parser.add_argument(
            "--to", required=True, help="The number written to: E.164, or a short code's digits."
        )
        parser.add_argument("--body", required=True)
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        try:
            result = inbound_simulate(
                sender=options["sender"], to=options["to"], body=options["body"]
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if result.auto_reply is not None:
            # Its dispatch ran when the handler's transaction committed (in-process
            # without a broker): show the status it has got to.
            result.auto_reply.refresh_from_db(fields=["status"])
        if options["json"]:
            self.stdout.write(json.dumps(as_json(result, options), indent=2))
        else:
            self.write_lines(result, options["to"])

    def write_lines(self, result: InboundResult, to: str) -> None:
        if result.unrouted:
            self.stdout.write(
                self.style.WARNING(
                    f"Unrouted: no number {to} is registered. Recorded under Opt-out and "
                    "inbound → Unrouted inbound; a carrier is answered 200 and nothing else "
                    "happens."
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Action: {result.action or 'none'}"))
        reply = result.auto_reply
        if reply is None:
            self.stdout.write("Auto-reply: none")
        else:
            self.stdout.write(f"Auto-reply from {reply.sender} ({reply.status}): {reply.body}")
        if result.forwarded_to:
            self.stdout.write(f"Forwarded to {result.forwarded_to}")


def as_json(result: InboundResult, options) -> dict:
    return {
        "from": options["sender"],
        "to": options["to"],
        "body": options["body"],
        "unrouted": result.unrouted,
        "action": result.action,
        "autoReply": reply_json(result.auto_reply) if result.auto_reply else None,
        "forwardedTo": result.forwarded_to,
    }


def reply_json(reply: Message) -> dict:
    return {
        "trackingId": str(reply.pk),
        "from": reply.sender,
        "body": reply.body,
        "status": reply.status,
    }
