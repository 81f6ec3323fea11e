"""A carrier on the laptop (SPEC §5): accepts everything and reports at once —
Delivered, except to recipients whose number ends in 999, reported Undelivered."""

from carriers.gateways.base import Accepted, CheckResult, Gateway, Outbound, Receipt


class SimulatorGateway(Gateway):
    def send(self, outbound: Outbound) -> Accepted:
        provider_id = f"sim-{outbound.tracking_id}"
        if outbound.to.endswith("999"):
            receipt = Receipt(provider_id, "Undelivered", "Simulated undelivered", "SIMULATED")
        else:
            receipt = Receipt(provider_id, "Delivered")
        return Accepted(provider_ids=(provider_id,), receipts=(receipt,))

    def check(self) -> CheckResult:
        return CheckResult("up", "The simulator is always there.")
