#!/usr/bin/env python
"""Benchmark of the AWS sync engine against a local moto server.

    .venv/bin/python bench/aws_sync.py [--resources 10000] [--regions 4] [--keep] [--profile N]

1. starts ``moto_server`` on 127.0.0.1 (an ephemeral port; stopped at the end), with
   MOTO_EC2_LOAD_DEFAULT_AMIS=false;
2. seeds an account of about --resources resources, mostly cheap-to-create types (security groups,
   subnets, volumes, VPCs, network interfaces, a few instances) spread over --regions regions, plus
   about 75 per region of the service collectors' types (log groups, queues, topics, tables, secrets,
   ECR repositories, ECS clusters and task definitions);
3. runs one full sync through the engine (``inventory.sync.run_sync``: every registered collector,
   rate limits, diff, one write transaction) into SQLite in a temporary directory, or into
   DATABASE_URL when it is set (the benchmark's organization is deleted at the end);
4. replays the very API calls the sync made (same operations, same parameters, pages included) with
   plain boto3 clients and nothing else: the "bare paginated describe calls for the same resources",
   once one after the other and once with the sync's concurrency;
5. prints resources per second, the ratio of the sync's wall time to the bare calls' time, where the
   time went (fetch, write, each after-sync hook: findings evaluation, map cache...), and peak memory;
   with --profile N, the N functions that took most of this process's CPU in the unpaced sync (sampled).
   With --keep, the database keeps the benchmark's organization and its synced inventory.

The sync runs twice on the same account (two connections, each a first full sync of ~10,000
resources): with the production rate limits (at most SYNC_RATE_FRACTION of AWS's documented quotas,
which is what a customer gets), and without client-side rate limits, which isolates the engine's own
overhead over the API calls. The bare calls are not paced, so the first ratio includes the pacing.
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_ID = "123456789012"
ALL_REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1", "ap-northeast-1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by this process (all threads), or by process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by this process and by the moto server over a phase: where the wall time went."""

    moto_pid: int | None = None

    def __enter__(self) -> CpuMeter:
        self.start = (cpu_seconds(), cpu_seconds(self.moto_pid) if self.moto_pid else 0.0)
        return self

    def __exit__(self, *exc) -> None:
        self.ours = cpu_seconds() - self.start[0]
        self.moto = (cpu_seconds(self.moto_pid) if self.moto_pid else 0.0) - self.start[1]

    def __str__(self) -> str:
        return f"CPU: this process {self.ours:.1f} s, moto server {self.moto:.1f} s"


class MotoServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "moto.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> MotoServer:
        binary = Path(sys.executable).with_name("moto_server")
        env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own venv's moto_server)
                [str(binary), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log, env=env
            )
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1)  # noqa: S310  (local moto)
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"moto_server exited; see {self.log}") from None
                time.sleep(0.1)
        raise RuntimeError(f"moto_server did not start; see {self.log}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- seeding --------------------------------------------------------------------------------------


def seed_region(region: str, target: int) -> int:
    """About ``target`` resources in ``region``; returns how many create calls succeeded."""
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    vpc_count = 10
    subnets_per_vpc = 20
    instances = 25  # each brings a network interface and a root volume
    budget = target - vpc_count * 3 - vpc_count * subnets_per_vpc - instances * 3
    groups = int(budget * 0.5)
    volumes = int(budget * 0.3)
    enis = budget - groups - volumes
    vpcs, subnets = [], []
    for v in range(vpc_count):
        vpc = ec2.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]  # + default SG and main route table
        vpcs.append(vpc)
        for s in range(subnets_per_vpc):
            subnets.append(
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.{s}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            )
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    image = ec2.register_image(
        Name="bench-image",
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        VirtualizationType="hvm",
    )["ImageId"]

    def create_group(i: int) -> None:
        ec2.create_security_group(
            GroupName=f"bench-{i}",
            Description="benchmark",
            VpcId=vpcs[i % vpc_count],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": f"t{i % 7}"}]}],
        )

    def create_volume(i: int) -> None:
        ec2.create_volume(
            AvailabilityZone=zone,
            Size=1 + i % 100,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": f"vol-{i}"}]}],
        )

    def create_eni(i: int) -> None:
        ec2.create_network_interface(SubnetId=subnets[i % len(subnets)], Description=f"bench-{i}")

    jobs = [(create_group, i) for i in range(groups)]
    jobs += [(create_volume, i) for i in range(volumes)]
    jobs += [(create_eni, i) for i in range(enis)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: job[0](job[1]), jobs))
    ec2.run_instances(ImageId=image, MinCount=instances, MaxCount=instances, SubnetId=subnets[0])
    return len(jobs) + vpc_count * (subnets_per_vpc + 2) + instances


def seed_services(region: str) -> int:
    """A few resources of the service collectors (log groups, queues, topics, tables, secrets, repositories,
    ECS), so their per-resource reads are part of the comparison too; returns how many."""
    import boto3

    count = 0
    logs = boto3.client("logs", region_name=region)
    for i in range(20):
        logs.create_log_group(logGroupName=f"/bench/app-{i}")
    sqs, sns = boto3.client("sqs", region_name=region), boto3.client("sns", region_name=region)
    for i in range(10):
        sqs.create_queue(QueueName=f"bench-queue-{i}")
        sns.create_topic(Name=f"bench-topic-{i}")
    ddb = boto3.client("dynamodb", region_name=region)
    secrets = boto3.client("secretsmanager", region_name=region)
    for i in range(5):
        ddb.create_table(
            TableName=f"bench-table-{i}",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        secrets.create_secret(Name=f"bench/secret-{i}", SecretString="bench-not-a-secret")
    ecr, ecs = boto3.client("ecr", region_name=region), boto3.client("ecs", region_name=region)
    for i in range(3):
        ecr.create_repository(repositoryName=f"bench-repo-{i}")
        ecs.create_cluster(clusterName=f"bench-cluster-{i}")
        ecs.register_task_definition(
            family=f"bench-task-{i}", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
        )
        count += 3
    return count + 20 + 2 * 10 + 2 * 5


def seed_global() -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    for i in range(5):
        s3.create_bucket(Bucket=f"bench-bucket-{i}-{ACCOUNT_ID}")
    iam = boto3.client("iam", region_name="us-east-1")
    for i in range(10):
        iam.create_user(UserName=f"bench-user-{i}")
    iam.create_role(RoleName="CloustralReadOnly", AssumeRolePolicyDocument="{}")


# --- recording and replaying the sync's API calls --------------------------------------------------


class CallRecorder:
    """Every API call made by the sync's clients: (region, service, operation, params), in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict]] = []
        self.attempts = 0  # HTTP attempts, botocore's retries included
        self.lock = threading.Lock()

    def attach(self, client) -> None:
        region = client.meta.region_name
        service = client.meta.service_model.service_name

        def record(params, model, **kwargs):
            with self.lock:
                self.calls.append((region, service, model.name, dict(params)))

        def attempt(**kwargs):
            with self.lock:
                self.attempts += 1

        client.meta.events.register("before-parameter-build.*.*", record)
        client.meta.events.register("before-send.*.*", attempt)


def replay(calls: list[tuple[str, str, str, dict]], workers: int, recorder: CallRecorder | None = None) -> float:
    """Seconds to make ``calls`` with plain clients (created beforehand, not timed). With several
    workers, each (region, service) sequence runs in order on one worker, as in the sync.
    ``recorder`` counts the HTTP attempts."""
    import boto3
    from botocore.config import Config

    from inventory.collectors.aws.context import SCAN_CONFIG, limit_hopeless_retries

    session = boto3.Session(region_name="us-east-1")
    config = SCAN_CONFIG.merge(Config(max_pool_connections=max(10, workers)))
    clients = {}
    for region, service, _op, _params in calls:
        if (region, service) not in clients:
            # The scan's retry policy too: the same calls make the same HTTP attempts.
            client = limit_hopeless_retries(session.client(service, region_name=region, config=config))
            if service == "s3control":
                from inventory.sync import _strip_account_host_prefix

                client.meta.events.register("before-send.s3-control", _strip_account_host_prefix)
            if recorder is not None:
                recorder.attach(client)
            clients[(region, service)] = client
    groups: dict[tuple[str, str], list[tuple[str, dict]]] = defaultdict(list)
    for region, service, op, params in calls:
        groups[(region, service)].append((op, params))

    def run(key) -> None:
        client = clients[key]
        for op, params in groups[key]:
            try:
                client._make_api_call(op, params)
            except Exception:  # noqa: S110  (the same errors the sync saw; only the time matters)
                pass

    started = time.perf_counter()
    if workers <= 1:
        for key in groups:
            run(key)
    else:
        # Longest sequences first, as a fair scheduler would.
        order = sorted(groups, key=lambda k: -len(groups[k]))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, order))
    return time.perf_counter() - started


class StackSampler:
    """A sampling profiler of this process's CPU: every few milliseconds, the stack of each thread, weighted
    by the CPU time that thread used since the previous sample (its POSIX thread CPU clock), so threads
    waiting for the network, a lock or the GIL weigh nothing. cProfile cannot do this: since Python 3.12
    one profiler sees every thread's calls interleaved."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.total = 0.0
        self.inclusive: dict[str, float] = defaultdict(float)
        self.own: dict[str, float] = defaultdict(float)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        last: dict[int, float] = {}
        while not self.done.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == threading.get_ident():
                    continue
                try:
                    now = time.clock_gettime(time.pthread_getcpuclockid(ident))
                except OSError:  # the thread ended meanwhile
                    continue
                spent, last[ident] = now - last.get(ident, now), now
                if spent <= 0:
                    continue
                self.total += spent
                self.own[self._label(frame)] += spent
                seen = set()
                while frame is not None:
                    label = self._label(frame)
                    if label not in seen:
                        seen.add(label)
                        self.inclusive[label] += spent
                    frame = frame.f_back

    @staticmethod
    def _label(frame) -> str:
        code = frame.f_code
        path = code.co_filename
        for marker in ("site-packages/", f"{ROOT}/", "python3.12/"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        return f"{path}:{code.co_firstlineno}({code.co_qualname})"

    def stop(self, top: int) -> str:
        self.done.set()
        self.thread.join()
        lines = [f"  {self.total:.1f} s of CPU sampled; cumulative, then own:"]
        for label, spent in sorted(self.inclusive.items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"  {spent:6.2f} s  {label}")
        lines.append("  own:")
        for label, spent in sorted(self.own.items(), key=lambda kv: -kv[1])[: max(top // 2, 10)]:
            lines.append(f"  {spent:6.2f} s  {label}")
        return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    # A SIGTERM (timeout, kill) unwinds like Ctrl+C, so the moto server and the temporary files go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000, help="about how many resources to seed")
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(ALL_REGIONS) + 1))
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (SQLite, moto log) and the organization with its inventory",
    )
    parser.add_argument(
        "--paced-only", action="store_true", help="skip the second sync without client-side rate limits"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the N functions with the most CPU time (cumulative) in the unpaced sync",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cloustral-bench-"))
    regions = ALL_REGIONS[: args.regions]
    try:
        with MotoServer(workdir) as moto:
            CpuMeter.moto_pid = moto.process.pid if moto.process else None
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL": moto.url,
                    "AWS_ACCESS_KEY_ID": "AKIABENCHEXAMPLE0000",
                    "AWS_SECRET_ACCESS_KEY": "bench-not-a-secret",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    # As production runs: with DEBUG on, Django records every query (a cost no customer pays).
                    "DEBUG": os.environ.get("DEBUG", "false"),
                    "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopq"),
                    "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS")
                    or "bench:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
                    "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", "testserver"),
                    "LOG_LEVEL": "WARNING",
                    "BILLING_ENFORCE_LIMITS": "false",  # the engine's speed, not a plan's resource limit
                }
            )
            if not os.environ.get("DATABASE_URL"):
                os.environ["DATA_DIR"] = str(workdir)
            database = "DATABASE_URL" if os.environ.get("DATABASE_URL") else f"SQLite in {workdir}"
            print(f"moto server at {moto.url}; database: {database}")

            started = time.perf_counter()
            per_region = args.resources // len(regions)
            with ThreadPoolExecutor(max_workers=len(regions)) as pool:
                list(pool.map(lambda r: seed_region(r, per_region), regions))
                list(pool.map(seed_services, regions))
            seed_global()
            print(f"seeded {len(regions)} regions in {time.perf_counter() - started:.1f} s")
            return run_benchmark(regions, paced_only=args.paced_only, profile=args.profile, keep=args.keep)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_benchmark(regions: list[str], paced_only: bool = False, profile: int = 0, keep: bool = False) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from connections.models import CloudConnection
    from inventory import actions, ratelimit, sync
    from orgs.models import Organization

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Benchmark", slug=f"bench-{int(time.time())}")

    def new_connection(name: str) -> CloudConnection:
        return CloudConnection.objects.for_org(org).create(
            name=name,
            provider="aws",
            auth_method="aws_role",
            role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/CloustralReadOnly",
            external_id="cloustral-benchmark-external-id",
            aws_account_id=ACCOUNT_ID,
            enabled_regions=regions,
            status=CloudConnection.Status.VERIFIED,
        )

    def timed_sync(connection: CloudConnection, recorder: CallRecorder | None = None, profile: int = 0) -> dict:
        """One full sync, instrumented: wall time, write time, the fetch's unit results, peak RSS; with
        ``profile``, the CPU profile of the fetch's worker threads (slower: for where, not how long)."""
        out: dict = {"rss_before": rss_mib(), "clients": 0, "client_seconds": 0.0}
        originals = (sync._SerializedSession.client, sync.write_inventory, sync.summarize)
        sampler = StackSampler() if profile else None

        def recording_client(self, *a, **kw):
            with self._lock:  # as the original: serialized, so the sum is time on the critical path
                t = time.perf_counter()
                client = self._session.client(*a, **kw)
                out["clients"] += 1
                out["client_seconds"] += time.perf_counter() - t
            if recorder:
                recorder.attach(client)
            return client

        def timed_write(*a, **kw):
            t = time.perf_counter()
            try:
                return originals[1](*a, **kw)
            finally:
                out["write"] = time.perf_counter() - t

        def keep_fetch(fetch):
            out["fetch_result"] = fetch
            return originals[2](fetch)

        def timed_hooks(*a, **kw):  # the after-sync hooks: findings evaluation, in the calling thread
            t = time.perf_counter()
            try:
                return original_hooks(*a, **kw)
            finally:
                out["hooks"] = time.perf_counter() - t

        def timed_hook(hook):  # each hook's share (findings evaluation, map cache, automations...)
            def timed(*a, **kw):
                t = time.perf_counter()
                try:
                    return hook(*a, **kw)
                finally:
                    out["by_hook"][f"{hook.__module__}.{hook.__name__}"] = time.perf_counter() - t

            return timed

        original_hooks, registered = sync.hooks.run_after_sync, list(sync.hooks.after_sync)
        sync.hooks.run_after_sync = timed_hooks
        out["by_hook"] = {}
        sync.hooks.after_sync[:] = [timed_hook(hook) for hook in registered]

        sync._SerializedSession.client, sync.write_inventory, sync.summarize = recording_client, timed_write, keep_fetch
        try:
            run, _ = actions.do_start_sync(connection, enqueue=False)
            t = time.perf_counter()
            if sampler:
                sampler.start()
            with CpuMeter() as out["cpu"]:
                out["run"] = sync.run_sync(run.pk)
            if sampler:
                out["profile"] = sampler.stop(profile)
            out["wall"] = time.perf_counter() - t
        finally:
            sync._SerializedSession.client, sync.write_inventory, sync.summarize = originals
            sync.hooks.run_after_sync = original_hooks
            sync.hooks.after_sync[:] = registered
        out["peak"] = peak_rss_mib()
        return out

    def report(label: str, result: dict, bare: float, workers: int) -> None:
        run, wall = result["run"], result["wall"]
        write, hooks = result.get("write", 0.0), result.get("hooks", 0.0)
        fetch = result.get("fetch_result")
        print(f"\n{label}: sync run {run.pk} {run.status}, {run.completeness_percent:.1f}% complete")
        print(f"  resources               {run.resource_count:>10,}  ({len(run.counts['by_type'])} types)")
        print(f"  API calls               {run.api_calls:>10,}")
        print(
            f"  sync wall time          {wall:>10.2f} s  (fetch {wall - write - hooks:.2f} s, write {write:.2f} s,"
            f" after-sync hooks {hooks:.2f} s)"
        )
        print(f"  ratio without the hooks {(wall - hooks) / bare:>10.2f}   (fetch and write / bare: the engine's part)")
        by_hook = sorted(result["by_hook"].items(), key=lambda item: -item[1])
        print("  after-sync hooks        " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in by_hook))
        print(f"  clients created         {result['clients']:>10,}  in {result['client_seconds']:.2f} s, one at a time")
        print(f"  {result['cpu']}")
        print(f"  resources per second    {run.resource_count / wall:>10,.0f}")
        print(f"  ratio sync / bare       {wall / bare:>10.2f}   (vs the faster bare run; goal <= 1.2 unpaced)")
        if fetch is not None:
            print(f"  waited for rate limits  {fetch.rate_wait_seconds:>10.2f} s  (summed over worker threads)")
            slowest = sorted(fetch.results, key=lambda r: -r.seconds)[:5]
            print(
                "  slowest units           "
                + ", ".join(f"{r.unit.scope[0][4:]}@{r.unit.region} {r.seconds:.1f}s" for r in slowest)
            )

    try:
        workers = settings.SYNC_MAX_WORKERS
        recorder = CallRecorder()
        paced = timed_sync(new_connection("Paced"), recorder)
        if paced["run"].status not in ("succeeded", "partial"):
            print(f"sync {paced['run'].status}: {paced['run'].errors} {paced['run'].warnings[:5]}")
            return 1
        unpaced = None
        if not paced_only:
            # The same sync without client-side rate limits: the engine's own overhead over the calls.
            original = ratelimit.limiter_for_account
            ratelimit.limiter_for_account = lambda account: ratelimit.RateLimiter(
                account, fraction=1.0, quotas={}, default=ratelimit.Quota(1e9, 1e9)
            )
            try:
                unpaced = timed_sync(new_connection("Unpaced"), profile=profile)
            finally:
                ratelimit.limiter_for_account = original
        bare_attempts = CallRecorder()
        with CpuMeter() as bare_cpu:
            bare_sequential = replay(recorder.calls, 1, bare_attempts)
        with CpuMeter() as concurrent_cpu:
            bare_concurrent = replay(recorder.calls, workers)

        bare = min(bare_sequential, bare_concurrent)  # the stricter baseline
        print(f"\nthe same {len(recorder.calls):,} API calls, bare (plain boto3 clients, no processing):")
        print(f"  HTTP attempts           {bare_attempts.attempts:>10,}  (the paced sync: {recorder.attempts:,})")
        print(f"  sequential              {bare_sequential:>10.2f} s  ({bare_cpu})")
        print(f"  {workers} workers               {bare_concurrent:>10.2f} s  ({concurrent_cpu})")
        report(f"production pacing (SYNC_RATE_FRACTION={settings.SYNC_RATE_FRACTION})", paced, bare, workers)
        if unpaced:
            report("without client-side rate limits (engine overhead)", unpaced, bare, workers)
            if unpaced.get("profile"):
                print("\nwhere the unpaced sync spent this process's CPU (stacks sampled, weighted by thread CPU):")
                print(unpaced["profile"])
        print(f"\npeak memory (RSS of this process) {paced['peak']:.0f} MiB after the first sync")
        print(f"  (before it: {paced['rss_before']:.0f} MiB: Django, boto3 and the seeding clients)")
        return 0
    finally:
        if keep:  # the synced inventory stays, to rerun an evaluation on it
            print(f"kept organization {org.pk} ({org.slug})")
        else:
            with django.db.transaction.atomic():
                org.delete()


if __name__ == "__main__":
    sys.exit(main())
