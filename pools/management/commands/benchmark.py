import argparse
import os
import platform
import statistics
import subprocess
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import F
from django.urls import reverse

from accounts.models import Account
from pools.benchmark import seed, server, wrk
from pools.benchmark.plan import BROKER, MIXES, MODES, Phase, Plan, Scenario
from pools.benchmark.report import (
    Run,
    bare_line,
    error_line,
    send_line,
    statements_line,
    targets,
)
from pools.benchmark.statements import pool_statements
from pools.models import StickyMapping


def sizes(raw: str) -> list[int]:
    try:
        values = [int(item.replace("_", "")) for item in raw.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {raw!r}"
        ) from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError("give one or more sizes, each at least 2")
    return values


def rounds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def names(choices):
    def parse(raw: str) -> list[str]:
        values = [item.strip() for item in raw.split(",") if item.strip()]
        unknown = set(values) - set(choices)
        if not values or unknown:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(choices)}")
        return values

    return parse


class Command(BaseCommand):
    """How fast the send endpoint is, measured as a new user would (SPEC §15, issue 12).

    A send's cost is a database's and a WSGI server's as much as the code's, so the
    benchmark measures the deployed shape: gunicorn, PostgreSQL, DEBUG off, driven by
    wrk. Absolute figures drift with the machine, so every send run is set against a
    bare DRF endpoint on the same server run just before it, and the targets are
    ratios. It reports and always exits 0: performance is read from here, never
    asserted by timing in tests. Statements per send are counted in-process, exactly.
    Everything it seeds is in its own account, deleted at the end.
    """

    help = (
        "Benchmark the send endpoint against a bare DRF endpoint under gunicorn with wrk, "
        "on PostgreSQL, and check SPEC §15's targets. Needs wrk; Redis for the broker runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--duration", type=float, default=10, help="Seconds of each measured run (10)."
        )
        parser.add_argument(
            "--warmup", type=float, default=2, help="Seconds of the warm-up before each (2)."
        )
        parser.add_argument(
            "--rounds",
            type=rounds,
            default=1,
            help="Bare and send runs of each scenario, one after the other; the targets "
            "take the median of their ratios (1).",
        )
        parser.add_argument("--connections", type=int, default=8, help="wrk connections (8).")
        parser.add_argument("--threads", type=int, default=2, help="wrk threads (2).")
        parser.add_argument(
            "--scenarios",
            type=names(tuple(MIXES)),
            default=list(MIXES),
            help="Request mixes: mix (90%% known, 10%% new), sticky, new (default all).",
        )
        parser.add_argument(
            "--pool-sizes",
            type=sizes,
            default=[10, 1_000, 10_000],
            help="Numbers per pool, comma-separated (10,1000,10000).",
        )
        parser.add_argument(
            "--mappings",
            type=sizes,
            default=[10_000, 1_000_000],
            help="Mapping tables of the middle pool, smallest first (10000,1000000).",
        )
        parser.add_argument(
            "--modes",
            type=names(MODES),
            default=list(MODES),
            help="broker (CELERY_BROKER_URL set), embedded (no broker); default both.",
        )
        parser.add_argument(
            "--broker-url",
            default="redis://127.0.0.1:6379/13",
            help="The broker of the broker runs; it and the next database are flushed.",
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        if connection.vendor != "postgresql":
            raise CommandError(
                "The benchmark measures PostgreSQL, as deployed: set DATABASE_URL to a "
                "PostgreSQL database of its own (scripts/benchmark creates one)."
            )
        self.load = wrk.Load(options["duration"], options["connections"], options["threads"])
        self.warmup = wrk.Load(options["warmup"], options["connections"], options["threads"])
        self.rounds = options["rounds"]
        self.broker_url = options["broker_url"]
        self.verbosity = options["verbosity"]
        plan = self.plan(options)
        self.pools: dict[int, seed.BenchPool] = {}
        self.measured = {}
        self.runs: list[Run] = []
        self.new_base = 0  # the next new recipient's index: no two sends share one
        self.tenant = seed.tenant_create()
        try:
            self.say(self.machine())
            self.seed_pools(plan)
            for phase in plan.phases():
                self.run_phase(phase)
            self.summary(plan)
        finally:
            self.say("Deleting the benchmark's account and everything in it…")
            seed.tenant_delete()
        minutes, seconds = divmod(round(time.monotonic() - started), 60)
        self.say(
            self.style.SUCCESS(f"Ran in {minutes} min {seconds} s")
            + f" (load average now {os.getloadavg()[0]:.2f})."
        )

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # progress, also when piped to a file

    def plan(self, options) -> Plan:
        modes = options["modes"]
        if BROKER in modes and not server.broker_reachable(self.broker_url):
            self.stderr.write(f"No Redis at {self.broker_url}: the broker runs are left out.")
            modes = [mode for mode in modes if mode != BROKER]
        if not modes:
            raise CommandError("Nothing to run: no mode left.")
        wrk.wrk_path()
        return Plan.of(
            modes=modes,
            mixes=options["scenarios"],
            sizes=options["pool_sizes"],
            tables=options["mappings"],
        )

    def machine(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres = cursor.fetchone()[0]
        version = subprocess.run([wrk.wrk_path(), "-v"], capture_output=True, text=True)
        wrk_version = (version.stdout or version.stderr).split("[")[0].strip()
        return (
            f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}; "
            f"Python {platform.python_version()}, PostgreSQL {postgres}, {wrk_version}; "
            f"a commit that writes takes {commit_ms(self.tenant.account):.1f} ms; "
            f"load average {os.getloadavg()[0]:.2f}"
        )

    def seed_pools(self, plan: Plan) -> None:
        for size in plan.sizes:
            started = time.monotonic()
            bench = seed.pool_seed(account=self.tenant.account, size=size, known=plan.tables[0])
            self.pools[size] = bench
            self.say(
                f"Seeded a sticky geomatch pool of {size:,} numbers over {len(bench.codes)} "
                f"area codes, {bench.known:,} known recipients ({time.monotonic() - started:.1f} s)"
            )
        seed.analyze()
        self.say("Statements per send request (in-process; BEGIN, COMMIT, savepoints not counted):")
        for bench in self.pools.values():
            self.count_statements(bench)

    def grow(self, bench: seed.BenchPool, known: int) -> None:
        started = time.monotonic()
        seed.mappings_seed(bench, known=known)
        seed.analyze()
        self.say(
            f"Grew the pool of {bench.size:,} numbers to {known:,} known recipients "
            f"({time.monotonic() - started:.1f} s); the table has "
            f"{StickyMapping.objects.count():,} mappings"
        )
        self.count_statements(bench)

    def count_statements(self, bench: seed.BenchPool) -> None:
        new = self.new_recipients(2)
        measured = pool_statements(
            pool_id=bench.pool.pk,
            raw_key=self.tenant.raw_key,
            known=[seed.known_recipient(bench.codes, index) for index in (0, 1)],
            new=[seed.new_recipient(bench.codes, index) for index in (new, new + 1)],
        )
        self.measured[bench.size, bench.known] = measured
        self.say(statements_line(bench.size, bench.known, measured))
        if self.verbosity >= 2:
            for label, send in (
                ("sticky hit", measured.sticky_hit),
                ("new", measured.new_recipient),
            ):
                for sql in (*send.request, *(f"[dispatch] {s}" for s in send.dispatch)):
                    self.say(f"    {label}: {sql}")

    def new_recipients(self, count: int) -> int:
        first = self.new_base
        self.new_base += count
        return first

    def run_phase(self, phase: Phase) -> None:
        middle = self.pools[phase.scenarios[0].pool_size]
        if middle.known < phase.known:
            self.grow(middle, phase.known)
        broker_url = self.broker_url if phase.mode == BROKER else ""
        self.say(phase_header(broker_url, self.load, self.warmup))
        env = server.server_env(
            database=server.database_url(connection.settings_dict), broker_url=broker_url
        )
        with server.broker_flushed(broker_url), server.gunicorn(env) as url:
            self.smoke(url, middle)
            for scenario in phase.scenarios:
                self.measure(url, scenario)

    def smoke(self, url: str, bench: seed.BenchPool) -> None:
        """One send before the runs: a misconfiguration shows here, not as 100% non-2xx."""
        status, body = server.post(
            url + send_path(bench),
            {"to": seed.known_recipient(bench.codes, 0), "body": "Benchmark"},
            {"Authorization": f"Bearer {self.tenant.raw_key}"},
        )
        if status != 200:
            raise CommandError(f"A send through gunicorn answered {status}: {body[:500]!r}")

    def measure(self, url: str, scenario: Scenario) -> None:
        bench = self.pools[scenario.pool_size]
        statements = self.measured.get((bench.size, scenario.known))
        for _ in range(self.rounds):
            table = StickyMapping.objects.count()
            bare = self.drive(url, server.BARE_PATH, bench, scenario)
            self.say(bare_line(bare))
            send = self.drive(url, send_path(bench), bench, scenario)
            run = Run(scenario, bare, send, table, statements)
            self.runs.append(run)
            self.say(send_line(run))
            for result in (bare, send):
                if line := error_line(result):
                    self.say(line)

    def drive(self, url: str, path: str, bench: seed.BenchPool, scenario: Scenario) -> wrk.Result:
        result = None
        for load in (self.warmup, self.load):
            if load.duration <= 0:
                continue
            mix = wrk.Mix(
                path,
                self.tenant.raw_key,
                MIXES[scenario.mix].known,
                bench.known,
                self.new_base,
                bench.codes,
            )
            result = wrk.run(url, load, mix)
            self.new_recipients(result.new_used * load.threads)
        return result

    def summary(self, plan: Plan) -> None:
        median = f"the median of {self.rounds} rounds of each; " if self.rounds > 1 else ""
        self.say(f"== SPEC §15 targets ({median}a report: the command exits 0 whatever they say)")
        for target in targets(plan, self.runs, list(self.measured.values())):
            style = {True: self.style.SUCCESS, False: self.style.ERROR}.get(target.passed, str)
            self.say(style(target.line()))


def send_path(bench: seed.BenchPool) -> str:
    return reverse("pool-send", kwargs={"pool_id": bench.pool.pk})


def phase_header(broker_url: str, load: wrk.Load, warmup: wrk.Load) -> str:
    where = (
        f"broker configured (CELERY_BROKER_URL={broker_url}; no worker, the tasks wait in Redis)"
        if broker_url
        else "embedded default (no broker: each message dispatched in-process)"
    )
    return (
        f"== {where}; gunicorn {' '.join(server.GUNICORN_FLAGS)}; wrk {load.threads} threads, "
        f"{load.connections} connections, {load.duration:g} s runs after {warmup.duration:g} s "
        "warm-ups; each send run against the bare run before it"
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith("model name")]
    except OSError:
        return platform.processor() or "unknown CPU"
    return lines[0].split(":", 1)[1].strip() if lines else platform.processor() or "unknown CPU"


def commit_ms(account: Account) -> float:
    """The median round trip of a write and its commit (a no-op update of the benchmark's
    account, in autocommit): the disk's flush every send waits for, on this machine."""
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        Account.objects.filter(pk=account.pk).update(name=F("name"))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
