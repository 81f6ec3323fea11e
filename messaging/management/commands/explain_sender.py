import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from messaging.selectors import marketing_hold
from pools.choices import Channel, Strategy
from pools.selectors import pool_by_reference
from pools.serializers import DecisionSerializer
from pools.services.selection import sender_preview
from pools_project.errors import ServiceError


class Command(BaseCommand):
    help = "Explain which sender a message to a recipient would get from a pool, and why."

    # The operator's answer to "why did this customer get that number?", from the
    # same selection service that sends, without sending or changing anything.

    def add_arguments(self, parser):
        parser.add_argument("--pool", required=True, help="The pool's id or name.")
        parser.add_argument("--to", required=True, help="The recipient, E.164.")
        parser.add_argument("--mms", action="store_true", help="Decide for an MMS.")
        parser.add_argument("--strategy", choices=Strategy.values, default=Strategy.NUMERIC)
        parser.add_argument(
            "--marketing",
            action="store_true",
            help="Also say when a marketing message would go, after quiet hours.",
        )
        parser.add_argument("--json", action="store_true", help="Print the decision as JSON.")

    def handle(self, *args, **options):
        try:
            pool = pool_by_reference(options["pool"])
            chosen = sender_preview(
                pool=pool,
                to=options["to"],
                channel=Channel.of(options["mms"]),
                strategy=options["strategy"],
            )
        except ServiceError as exc:
            explanation = exc.details.get("explanation")
            raise CommandError(
                f"{exc.code}: {exc.message}" + (f"\n{explanation}" if explanation else "")
            ) from exc
        decision = DecisionSerializer(chosen.decision).data
        if options["marketing"] and not chosen.decision.opted_out:
            plan = marketing_hold(
                pool=pool, to=chosen.recipient, requested=timezone.now(), deadline=None
            )
            decision["explanation"] = "\n".join([decision["explanation"], *plan.explanation])
            decision["sendAt"] = plan.send_at.isoformat() if plan.send_at else None
        if options["json"]:
            self.stdout.write(json.dumps(decision, indent=2))
            return
        if decision["optedOut"]:
            self.stdout.write(self.style.WARNING(f"{chosen.recipient} opted out: nothing is sent."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{chosen.recipient} gets {decision['from']} ({decision['senderType']}), "
                    f"rule {decision['rule']}."
                )
            )
        for line in decision["explanation"].splitlines():
            self.stdout.write(f"  {line}")
