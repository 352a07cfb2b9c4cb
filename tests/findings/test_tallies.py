"""The open tallies (findings/tallies.py): after every writer of a finding's status they equal a grouped
count of the findings themselves, and the pages that show counts read them instead of the findings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import overview
from findings import actions, bulk, lifecycle, queries, tallies
from findings.models import Finding, OpenFindingCount
from inventory.models import Resource
from tests.factories import CloudConnectionFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
VOLUME = "aws.ec2.volume"
UNATTACHED = "aws-ec2-volume-unattached"
UNENCRYPTED = "aws-ec2-volume-unencrypted"


def live_counts(org) -> dict[tuple, tuple]:
    """What the tallies must say: the open findings grouped as they are now."""
    out: dict[tuple, list] = {}
    for f in Finding.objects.for_org(org).filter(status=Finding.Status.OPEN):
        key = (f.connection_id, f.rule_id, f.severity, f.category)
        n, usd = out.get(key, (0, None))
        out[key] = (n + 1, (usd or Decimal(0)) + f.monthly_usd if f.monthly_usd is not None else usd)
    return {k: (n, usd) for k, (n, usd) in out.items()}


def tallied(org) -> dict[tuple, tuple]:
    return {
        (t.connection_id, t.rule_id, t.severity, t.category): (t.count, t.monthly_usd)
        for t in OpenFindingCount.objects.for_org(org)
    }


def volume(conn, name, **config):
    base = {"volume_id": name, "size_gb": 100, "volume_type": "gp3", "encrypted": True, "state": "in-use"}
    return ResourceFactory(
        connection=conn, resource_type=VOLUME, name=name, region="eu-west-1", config={**base, **config}
    )


@pytest.fixture
def estate(org):
    """Two connections with unattached and unencrypted volumes, evaluated."""
    conns = [CloudConnectionFactory(org=org, name=n) for n in ("A", "B")]
    for conn in conns:
        synced(conn, {VOLUME: ["eu-west-1"]})
        for i in range(4):
            volume(conn, f"vol-{conn.name}-{i}", state="available", encrypted=bool(i % 2))
        lifecycle.evaluate_connection(conn)
    return conns


def test_an_evaluation_counts_what_it_opened_and_resolved(org, estate):
    a, _ = estate
    assert tallied(org) == live_counts(org)
    assert OpenFindingCount.objects.for_org(org).get(connection=a, rule_id=UNATTACHED).count == 4
    fixed = Resource.objects.for_org(org).filter(connection=a, name__in=["vol-A-0", "vol-A-1"])
    for res in fixed:
        Resource.objects.for_org(org).filter(pk=res.pk).update(config={**res.config, "state": "in-use"})
    lifecycle.evaluate_connection(a)
    assert tallied(org) == live_counts(org)
    unattached = OpenFindingCount.objects.for_org(org).get(connection=a, rule_id=UNATTACHED)
    assert unattached.count == 2 and unattached.monthly_usd > 0 and unattached.title


def test_suppressions_and_their_lifting_move_the_counts(org, estate, owner):
    a, b = estate
    one = Finding.objects.for_org(org).filter(connection=a, rule_id=UNATTACHED).first()
    actions.do_suppress(one, user=owner, reason="known")
    assert tallied(org) == live_counts(org)
    actions.do_unsuppress(one, user=owner)
    assert tallied(org) == live_counts(org)
    bulk.do_bulk_suppress(org, Finding.objects.for_org(org).filter(rule_id=UNENCRYPTED), user=owner, reason="lab")
    assert tallied(org) == live_counts(org)
    assert not OpenFindingCount.objects.for_org(org).filter(rule_id=UNENCRYPTED).exists()
    bulk.do_bulk_unsuppress(org, Finding.objects.for_org(org), user=owner)
    assert tallied(org) == live_counts(org)
    rule, n = bulk.do_accept_scope(org, rule_id=UNATTACHED, user=owner, reason="accepted", connection=b)
    assert n == 4 and tallied(org) == live_counts(org)
    bulk.do_lift_scope(rule, user=owner)
    assert tallied(org) == live_counts(org)


def test_an_expired_suppression_is_counted_open_again(org, estate, owner):
    a, _ = estate
    one = Finding.objects.for_org(org).filter(connection=a, rule_id=UNATTACHED).first()
    actions.do_suppress(one, user=owner, reason="for a day", until=timezone.now() + timedelta(days=1))
    before = tallied(org)
    assert lifecycle.expire_suppressions(now=timezone.now() + timedelta(days=2)) == 1
    assert tallied(org) == live_counts(org) != before


def test_a_deleted_connection_takes_its_counts_along(org, estate):
    a, b = estate
    a.delete()
    assert tallied(org) == live_counts(org)
    assert {c for c, *_ in tallied(org)} == {b.pk}


def test_the_migration_counts_the_findings_already_there(org, estate):
    from importlib import import_module

    from django.db.migrations.loader import MigrationLoader

    expected = tallied(org)
    OpenFindingCount.objects.for_org(org).delete()
    historical = MigrationLoader(db).project_state(("findings", "0006_open_finding_counts")).apps
    import_module("findings.migrations.0006_open_finding_counts").count_existing(historical, None)
    assert tallied(org) == expected


def test_the_dashboard_and_the_findings_list_never_count_findings(client_for, owner, org, estate):
    client = client_for(owner)
    pages = [
        reverse("dashboard:home", kwargs={"org_slug": org.slug}),
        reverse("findings:list", kwargs={"org_slug": org.slug}),
        reverse("findings:list", kwargs={"org_slug": org.slug}) + "?view=flat&severity=medium&provider=aws",
        reverse("findings:list", kwargs={"org_slug": org.slug}) + f"?view=rules&connection={estate[0].pk}",
    ]
    for url in pages:
        client.get(url)  # what is cached per visitor
        with CaptureQueriesContext(db) as captured:
            assert client.get(url).status_code == 200
        counting = [q["sql"] for q in captured if "findings_finding" in q["sql"] and "GROUP BY" in q["sql"]]
        counting += [q["sql"] for q in captured if "COUNT(" in q["sql"] and '"findings_finding"' in q["sql"]]
        assert counting == [], url


def test_grouped_and_counted_from_the_tallies_as_from_the_findings(org, estate):
    """The tallies answer exactly what the grouped query over the findings answered."""
    for params in ({}, {"severity": ["medium", "low"]}, {"rule": [UNATTACHED]}, {"connection": estate[1].pk}):
        findings, filters = queries.filter_findings(org, params)
        from_tallies = queries.group_by_rule(org, findings, filters)
        assert queries.matching_tallies(org, filters) is not None
        from_findings = queries.group_by_rule(org, findings, filters, tallied=False)
        assert from_tallies == from_findings
        assert queries.count_matching(org, findings, filters)[0] == findings.count()
    counts = overview.finding_counts(org)
    assert counts.total == Finding.objects.for_org(org).filter(status=Finding.Status.OPEN).count()


def test_text_search_and_other_statuses_read_the_findings(org, estate):
    for params in ({"q": "vol-A"}, {"status": "resolved"}, {"status": "any"}):
        _, filters = queries.filter_findings(org, params)
        assert queries.matching_tallies(org, filters) is None


def test_recount_of_some_rules_leaves_the_others(org, estate):
    a, _ = estate
    OpenFindingCount.objects.for_org(org).filter(connection=a, rule_id=UNENCRYPTED).update(count=99)
    tallies.recount(org.pk, a.pk, [UNATTACHED])
    assert OpenFindingCount.objects.for_org(org).get(connection=a, rule_id=UNENCRYPTED).count == 99
    tallies.recount(org.pk, a.pk)
    assert tallied(org) == live_counts(org)
