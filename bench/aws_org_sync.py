#!/usr/bin/env python
"""Benchmark of scanning an AWS Organization, per member account, against a local moto server.

    .venv/bin/python bench/aws_org_sync.py [--accounts 4] [--resources 300] [--regions 1]

1. starts ``moto_server`` on 127.0.0.1 (bench/aws_sync.py's ``MotoServer``), creates an organization
   whose management account is moto's default account, and --accounts member accounts;
2. seeds every account (the management one and each member, through a role assumed into it) with the
   same estate of about --resources resources (security groups, volumes, queues, log groups);
3. baseline, in the same run: one single-account connection to the management account, scanned once
   (a first scan, like the members', after a warm-up scan that pays the imports and clients once);
4. the organization: one organization connection to the same account, scanned once: its own scan lists
   the accounts, then every member is scanned as its own connection (in-process here, one after the
   other; on workers they run side by side);
5. prints, per account, the scan's wall time, resources and API calls, the mean member scan against the
   single-account baseline (the cost of a multi-account scan per account), and the organization scan's
   own overhead (listing the accounts) against the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from aws_sync import ALL_REGIONS, MotoServer, peak_rss_mib  # noqa: E402  (the sibling benchmark's helpers)

MANAGEMENT = "123456789012"  # moto's default account


def session_in(account_id: str):
    """A boto3 session acting in ``account_id`` (moto keeps one backend per account)."""
    import boto3

    if account_id == MANAGEMENT:
        return boto3.Session()
    answer = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="bench-seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=answer["AccessKeyId"],
        aws_secret_access_key=answer["SecretAccessKey"],
        aws_session_token=answer["SessionToken"],
    )


def seed_account(account_id: str, regions: list[str], target: int) -> int:
    """The same small estate in every account: ~``target`` resources spread over ``regions``."""
    session = session_in(account_id)
    per_region = max(4, target // len(regions))
    for region in regions:
        ec2 = session.client("ec2", region_name=region)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
        groups, volumes, queues = per_region // 2, per_region // 4, per_region // 8
        logs = per_region - groups - volumes - queues
        for i in range(groups):
            ec2.create_security_group(GroupName=f"bench-{i}", Description="bench", VpcId=vpc)
        for i in range(volumes):
            ec2.create_volume(AvailabilityZone=zone, Size=1 + i % 50)
        sqs, cwl = session.client("sqs", region_name=region), session.client("logs", region_name=region)
        for i in range(queues):
            sqs.create_queue(QueueName=f"bench-{i}")
        for i in range(logs):
            cwl.create_log_group(logGroupName=f"/bench/{i}")
    session.client("iam", region_name="us-east-1").create_role(
        RoleName="CloustralReadOnly", AssumeRolePolicyDocument="{}"
    )
    return per_region * len(regions)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=4, help="member accounts besides the management one")
    parser.add_argument("--resources", type=int, default=300, help="about how many resources per account")
    parser.add_argument("--regions", type=int, default=1, choices=range(1, len(ALL_REGIONS) + 1))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cloustral-bench-org-"))
    regions = ALL_REGIONS[: args.regions]
    try:
        with MotoServer(workdir) as moto:
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL": moto.url,
                    "AWS_ACCESS_KEY_ID": "AKIABENCHEXAMPLE0000",
                    "AWS_SECRET_ACCESS_KEY": "bench-not-a-secret",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "DEBUG": os.environ.get("DEBUG", "true"),
                    "LOG_LEVEL": "WARNING",
                    "BILLING_ENFORCE_LIMITS": "false",
                    "SYNC_RATE_FRACTION": "1.0",  # moto has no quota to protect
                }
            )
            os.environ.pop("REDIS_URL", None)  # members' scans run in-process (eager Celery)
            if not os.environ.get("DATABASE_URL"):
                os.environ["DATA_DIR"] = str(workdir)
            import boto3

            client = boto3.client("organizations", region_name="us-east-1")
            client.create_organization(FeatureSet="ALL")
            members = [
                client.create_account(AccountName=f"member-{i}", Email=f"member-{i}@example.com")[
                    "CreateAccountStatus"
                ]["AccountId"]
                for i in range(args.accounts)
            ]
            started = time.perf_counter()
            seeded = sum(seed_account(a, regions, args.resources) for a in [MANAGEMENT, *members])
            print(f"moto at {moto.url}: {1 + len(members)} accounts, ~{seeded} resources seeded")
            print(f"seeded in {time.perf_counter() - started:.1f} s")
            return run_benchmark(regions, members)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_benchmark(regions: list[str], members: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloustral.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from connections import organization
    from connections.models import CloudConnection
    from inventory import actions, sync
    from inventory.models import SyncRun
    from orgs.models import Organization

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Benchmark org", slug=f"bench-org-{int(time.time())}")

    def connection(name: str, scope: str) -> CloudConnection:
        return CloudConnection.objects.for_org(org).create(
            name=name,
            provider="aws",
            auth_method="aws_role",
            aws_scope=scope,
            role_arn=f"arn:aws:iam::{MANAGEMENT}:role/CloustralReadOnly",
            external_id="cloustral-benchmark-external-id",
            aws_account_id=MANAGEMENT,
            enabled_regions=regions,
            status=CloudConnection.Status.VERIFIED,
        )

    def scan(conn: CloudConnection) -> tuple[SyncRun, float]:
        run, _ = actions.do_start_sync(conn, enqueue=False)
        t = time.perf_counter()
        run = sync.run_sync(run.pk)
        return run, time.perf_counter() - t

    def seconds(run: SyncRun) -> float:
        return (run.finished_at - run.started_at).total_seconds()

    try:
        scan(connection("Warm-up", CloudConnection.AwsScope.SINGLE))  # imports, clients, rules: paid once
        single, single_wall = scan(connection("Single", CloudConnection.AwsScope.SINGLE))
        print(f"\nbaseline, one account as a single connection (a first scan, after a warm-up): {single.status}")
        print(f"  {seconds(single):8.2f} s  {single.resource_count:6,} resources  {single.api_calls:6,} API calls")

        parent = connection("Organization", CloudConnection.AwsScope.ORGANIZATION)
        parent_run, org_wall = scan(parent)  # its after_sync hook lists the accounts and scans each member
        member_runs = [
            SyncRun.objects.for_org(org).filter(connection=m).order_by("-id").first()
            for m in organization.members_of(parent)
        ]
        if parent_run.status not in ("succeeded", "partial") or len(member_runs) != len(members):
            print(f"organization scan {parent_run.status}, {len(member_runs)} members: {parent_run.errors}")
            return 1
        own = seconds(parent_run)
        print(f"\norganization of {1 + len(members)} accounts, one connection: {org_wall:.2f} s in all")
        print(
            f"  management {own:8.2f} s  {parent_run.resource_count:6,} resources  {parent_run.api_calls:6,} API calls"
            f"  (with the listing of the accounts)"
        )
        for run in member_runs:
            print(
                f"  {run.connection.aws_account_id} {seconds(run):8.2f} s  {run.resource_count:6,} resources  "
                f"{run.api_calls:6,} API calls  {run.status}, {run.completeness_percent:.0f}% covered"
            )
        # The machine's load drifts: the baseline again, after, and the mean of both for the ratios.
        again, again_wall = scan(connection("Single again", CloudConnection.AwsScope.SINGLE))
        print(f"\nbaseline again, after the organization: {seconds(again):.2f} s ({seconds(single):.2f} s before)")
        base, base_wall = (seconds(single) + seconds(again)) / 2, (single_wall + again_wall) / 2
        mean = sum(seconds(r) for r in member_runs) / len(member_runs)
        calls = sum(r.api_calls for r in member_runs) / len(member_runs)
        print(f"\nper member account: {mean:.2f} s, {calls:,.0f} API calls")
        ratio = mean / base
        print(f"ratio member scan / single-account scan   {ratio:6.2f}   (1.0: no per-account overhead)")
        print(f"ratio management scan (listing included) / single-account scan {own / base:6.2f}")
        print(f"ratio organization scan / accounts × baseline {org_wall / ((1 + len(members)) * base_wall):6.2f}")
        print("  (in-process, one account after another, findings included; on workers, members run side by side)")
        print(f"peak memory {peak_rss_mib():.0f} MiB")
        return 0
    finally:
        org.delete()


if __name__ == "__main__":
    sys.exit(main())
