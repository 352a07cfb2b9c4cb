"""A worker killed mid-sync: the run is started again by another worker, never left "running", and the
previous inventory is never lost.

A real worker process (``celery -A cloustral worker``) on Redis and PostgreSQL, against a local moto
server: it takes a scan of an account that an earlier scan already inventoried, is SIGKILLed while
fetching (its scan is made slow by a real setting, SYNC_RATE_FRACTION, so the kill lands mid-run), and
a second worker is started. The task was never acknowledged (acks_late): Redis delivers it again once
the visibility timeout has passed, the second worker finds the run "running" with a silent heartbeat,
starts it again, and it succeeds with the account's current state.

CI runs it (REDIS_URL and a PostgreSQL DATABASE_URL); locally:
``QT_KEEP=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \
/tmp/qt tests/test_worker_killed.py``. The worker processes read the test database, so they need
PostgreSQL (SQLite's test database lives in this process's memory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from django.db import connection as db_connection

from inventory import actions
from inventory.models import Resource, SyncRun
from tests.celery_pools import forget_broker_connections
from tests.inventory.sync_helpers import make_connection, sync_now

ROOT = Path(__file__).resolve().parents[1]
S = SyncRun.Status
REGION = "eu-west-1"
# The worker's limits for this test: the visibility timeout must exceed the hard time limit (settings).
SOFT_LIMIT, HARD_LIMIT, VISIBILITY = 40, 45, 50

needs_real_worker = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs REDIS_URL and a PostgreSQL DATABASE_URL (CI runs it)",
)


def celery_setting(expression: str, **env: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from cloustral.celery import app; print({expression})"
    base = {k: v for k, v in os.environ.items() if k not in {"CELERY_VISIBILITY_TIMEOUT", "SYNC_TIME_LIMIT"}}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "cloustral.settings", "REDIS_URL": "redis://127.0.0.1:6379/0", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_visibility_timeout_outlasts_the_longest_task():
    """Redis redelivers an unacknowledged task after the visibility timeout: shorter than a scan's hard
    time limit, a scan still running would be handed to a second worker. Set explicitly, and checked."""
    shown = celery_setting(
        "app.conf.broker_transport_options['visibility_timeout'], app.conf.task_acks_late, "
        "app.conf.task_reject_on_worker_lost, __import__('inventory.tasks').tasks.sync_connection.time_limit"
    )
    assert shown.returncode == 0, shown.stderr
    visibility, acks_late, reject_on_lost, hard_limit = shown.stdout.split()
    assert acks_late == reject_on_lost == "True"
    assert int(visibility) > int(hard_limit) == 3720

    refused = celery_setting("app.conf.broker_transport_options", CELERY_VISIBILITY_TIMEOUT="3600")
    assert refused.returncode != 0 and "CELERY_VISIBILITY_TIMEOUT must be greater than SYNC_TIME_LIMIT" in (
        refused.stderr
    )


@pytest.fixture
def moto_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "AKIAPLATFORMEXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "platform",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield endpoint
    server.stop()


def worker_database_url() -> str:
    """The test database, as a URL the worker processes can use."""
    s = db_connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """``celery -A cloustral worker`` in its own process group (solo pool: the process runs the task)."""

    def __init__(self, name: str, log: Path, **env: str) -> None:
        self.log = log
        command = [str(Path(sys.executable).with_name("celery")), "-A", "cloustral", "worker", "--pool=solo"]
        command += ["--loglevel=INFO", "-n", f"{name}@%h", "--without-mingle", "--without-gossip"]
        self.out = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603  (our own venv's celery)
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.out.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.out.close()


def wait_for(predicate, timeout: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{tails(logs)}")


def seed(prefix: str, count: int) -> set[str]:
    """A VPC and ``count`` security groups in it; returns their ids. A session of its own, from the
    environment as it is now: boto3's default session keeps the credentials it first resolved, in
    whatever test created it."""
    ec2 = boto3.Session(region_name=REGION).client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    groups = [ec2.create_security_group(GroupName=f"{prefix}-{i}", Description="test", VpcId=vpc) for i in range(count)]
    return {vpc, *(group["GroupId"] for group in groups)}


def holding(native_ids: set[str], ids: set[str]) -> set[str]:
    """The cloud ids among ``ids`` that appear in the inventory's native ids (ARNs end with them)."""
    return {i for i in ids if any(n.endswith(f"/{i}") for n in native_ids)}


def tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {log.name}\n" + log.read_text()[-3000:] for log in logs if log.exists())


@needs_real_worker
@pytest.mark.django_db(transaction=True)
def test_a_sync_whose_worker_is_killed_runs_again_on_another_worker(org, moto_endpoint, tmp_path):
    from cloustral.celery import app

    seeded = seed("before", 3)
    conn = make_connection(org, regions=[REGION])
    first = sync_now(conn)
    assert first.status == S.SUCCEEDED, first.errors
    resources = Resource.objects.for_org(org).filter(connection=conn)
    before = set(resources.values_list("native_id", flat=True))
    assert holding(before, seeded) == seeded  # the connection reads the account the test seeds

    env = {
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SYNC_HEARTBEAT_SECONDS": "1",
        "SYNC_SOFT_TIME_LIMIT": str(SOFT_LIMIT),
        "SYNC_TIME_LIMIT": str(HARD_LIMIT),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "LOG_LEVEL": "INFO",
    }
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    # The first worker scans at a thousandth of the quotas: one call per service, then ten seconds a call.
    first_worker = Worker("killed", logs[0], SYNC_RATE_FRACTION="0.001", **env)
    second_worker = None
    forget_broker_connections(app)  # other tests start workers on other brokers
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        run, started = actions.do_start_sync(conn)  # queued, and the task sent to Redis (on commit)
        assert started
        runs = SyncRun.objects.for_org(org)
        wait_for(
            lambda: runs.filter(pk=run.pk, status=S.RUNNING, progress_total__gt=0).exists(),
            90,
            "the first worker to start the scan",
            logs,
        )
        delivered = time.monotonic()  # the task left the queue for the first worker just before
        wait_for(lambda: runs.get(pk=run.pk).progress_done >= 1, 30, "the scan to be under way", logs)
        time.sleep(2)
        first_worker.kill()  # SIGKILL, mid-fetch: nothing can clean up
        time.sleep(1)  # a commit already on its way to the database would have landed by now

        run.refresh_from_db()
        assert run.status == S.RUNNING and run.progress_done < run.progress_total  # killed mid-run
        assert set(resources.values_list("native_id", flat=True)) == before  # nothing written, nothing lost

        gained = seed("after", 2)  # the account moves on meanwhile: the run that succeeds must read it again
        # Redis delivers the unacknowledged task again once the visibility timeout has passed since it
        # was delivered; a worker starting after that restores it at once.
        time.sleep(max(0.0, delivered + VISIBILITY + 1 - time.monotonic()))
        second_worker = Worker("survivor", logs[1], SYNC_RATE_FRACTION="1", **env)
        wait_for(
            lambda: runs.filter(pk=run.pk).exclude(status__in=SyncRun.ACTIVE).exists(),
            SOFT_LIMIT + 60,
            "the run to finish on the second worker",
            logs,
        )
    finally:
        app.conf.task_always_eager = previous
        first_worker.kill()
        if second_worker is not None:
            second_worker.stop()
        forget_broker_connections(app)

    run.refresh_from_db()
    assert run.status == S.SUCCEEDED, (run.status, run.errors, tails(logs))
    assert "its worker was lost; starting it again" in logs[1].read_text(), tails(logs)
    after = set(resources.values_list("native_id", flat=True))
    diagnosis = (run.warnings, run.created_count, sorted(after - before), tails(logs))
    assert before < after, diagnosis  # the previous inventory is all there, with what the account gained
    assert holding(after - before, gained) == gained and run.created_count == len(after - before), diagnosis
