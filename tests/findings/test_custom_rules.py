"""Custom rules in the UI: the catalog and rule pages, the editor with its preview, saving (validated,
audited, re-evaluated, scoped to connections), enabling, disabling and deleting."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from findings.models import CustomRule, Finding
from findings.rule_editor import EXAMPLE_RULE, parse_custom_rule, preview_rule
from findings.rules import RuleError
from findings.rules.catalog import builtin_catalog
from tests.factories import CloudConnectionFactory, FindingFactory, RelationshipFactory, ResourceFactory, synced

pytestmark = pytest.mark.django_db
A = AuditEvent.Action
INSTANCE = "aws.ec2.instance"
RULE_ID = "custom-ec2-running-without-owner"


def url(name: str, org, **kwargs) -> str:
    return reverse(f"findings:{name}", kwargs={"org_slug": org.slug, **kwargs})


def instance(conn, name: str, *, state: str = "running", tags: dict | None = None, region: str = "eu-west-1"):
    return ResourceFactory(
        connection=conn,
        resource_type=INSTANCE,
        name=name,
        region=region,
        config={"state": state, "instance_type": "t3.micro"},
        tags=tags or {},
    )


@pytest.fixture
def conn(org):
    c = CloudConnectionFactory(org=org, name="Production")
    synced(c, {INSTANCE: ["eu-west-1"]})
    return c


@pytest.fixture
def conn2(org):
    c = CloudConnectionFactory(org=org, name="Staging")
    synced(c, {INSTANCE: ["eu-west-1"]})
    return c


@pytest.fixture
def fleet(conn, conn2):
    """In Production one running instance without an Owner tag and one with; in Staging one without."""
    return {
        "untagged": instance(conn, "web-1"),
        "tagged": instance(conn, "web-2", tags={"Owner": "team-a"}),
        "staging": instance(conn2, "stage-1"),
    }


def open_findings(org, rule_id: str, connection=None) -> set[str]:
    qs = Finding.objects.for_org(org).filter(rule_id=rule_id, status=Finding.Status.OPEN)
    if connection is not None:
        qs = qs.filter(connection=connection)
    return set(qs.values_list("resource_name", flat=True))


def form_data(source: str = EXAMPLE_RULE, *, fmt: str = "yaml", connections=(), enabled: bool = True, **extra):
    data = {"source": source, "format": fmt, "connections": [c.pk for c in connections], **extra}
    if enabled:
        data["enabled"] = "on"
    return data


def make_rule(org, source: str = EXAMPLE_RULE, *, connections=(), enabled: bool = True, user=None) -> CustomRule:
    from findings.rule_actions import do_create_custom_rule

    return do_create_custom_rule(org, user=user, source=source, connections=connections, enabled=enabled)


# --- parse and preview ---------------------------------------------------------------------------


def test_parse_prefixes_the_id_and_accepts_json():
    document, rule = parse_custom_rule(EXAMPLE_RULE, "yaml")
    assert rule.id == RULE_ID and document["id"] == "ec2-running-without-owner"
    as_json = '{"id": "j-rule", "title": "T", "severity": "low", "category": "hygiene",'
    as_json += ' "resource_types": ["aws.ec2.volume"], "condition": {"path": "config.encrypted", "op": "equals",'
    as_json += ' "value": false}}'
    assert parse_custom_rule(as_json, "json")[1].id == "custom-j-rule"


@pytest.mark.parametrize(
    ("text", "fmt", "path", "problem"),
    [
        ("id: a\ntitle: [\n", "yaml", "(yaml)", "line 3"),
        ('{"id": ', "json", "(json)", "line 1"),
        ("id: one\n---\nid: two\n", "yaml", "(document)", "several YAML documents"),
        ("- {id: one}\n- {id: two}\n", "yaml", "(document)", "holds 2 rules"),
        ("   ", "yaml", "(document)", "empty"),
    ],
)
def test_parse_errors_name_where_and_what(text, fmt, path, problem):
    with pytest.raises(RuleError) as caught:
        parse_custom_rule(text, fmt)
    assert caught.value.errors[0].path == path and problem in caught.value.errors[0].problem


def test_preview_counts_matches_of_the_rule_types_only(org, fleet, conn):
    ResourceFactory(connection=conn, resource_type="aws.ec2.volume", name="vol")  # another type: not a candidate
    rule = parse_custom_rule(EXAMPLE_RULE)[1]
    everywhere = preview_rule(org, rule)
    assert (everywhere.matched, everywhere.candidates) == (2, 3)
    assert everywhere.summary == "matches 2 of 3 resources"
    assert {s["name"] for s in everywhere.samples} == {"web-1", "stage-1"}
    sample = next(s for s in everywhere.samples if s["name"] == "web-1")
    assert sample["url"] == f"/o/{org.slug}/resources/{fleet['untagged'].pk}/"
    only_prod = preview_rule(org, rule, [conn.pk])
    assert only_prod.summary == "matches 1 of 2 resources"


def test_preview_follows_relationships_among_loaded_types(org, conn):
    vol = ResourceFactory(connection=conn, resource_type="aws.ec2.volume", name="vol", config={"state": "in-use"})
    lonely = ResourceFactory(connection=conn, resource_type="aws.ec2.volume", name="lonely", config={"state": "x"})
    box = instance(conn, "box")
    RelationshipFactory(source=vol, target=box, kind="attached_to")
    text = """
id: volume-on-running-instance
title: Volume on a running instance
severity: info
category: hygiene
resource_types: [aws.ec2.volume]
condition:
  related: {kind: attached_to, types: [aws.ec2.instance], where: {path: config.state, op: equals, value: running}}
"""
    rule = parse_custom_rule(text)[1]
    result = preview_rule(org, rule)
    assert result.summary == "matches 1 of 2 resources"
    assert [s["name"] for s in result.samples] == ["vol"] and lonely.pk not in result.sample_ids


# --- the editor ----------------------------------------------------------------------------------


def test_editor_starts_with_an_example_and_a_reference(client_for, member, org, conn):
    response = client_for(member).get(url("custom_rule_new", org))
    assert response.status_code == 200
    body = response.content.decode()
    assert "ec2-running-without-owner" in body and "Preview" in body
    assert "older_than_days" in body and "config.instance_type" in body  # operators and fields reference
    assert "Production" in body  # connections to scope to


def test_create_through_the_view_saves_audits_and_opens_scoped_findings(
    client_for, member, org, conn, conn2, fleet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(url("custom_rule_new", org), form_data(connections=[conn]))
    assert response.status_code == 302 and response["Location"] == url("rules", org)
    custom = CustomRule.objects.for_org(org).get()
    assert custom.rule_id == RULE_ID and custom.created_by == member and custom.enabled
    assert custom.title == "Running instance without an Owner tag" and custom.severity == "low"
    assert custom.document["id"] == "ec2-running-without-owner" and custom.source == EXAMPLE_RULE
    event = AuditEvent.objects.get(action=A.RULE_CREATED)
    assert event.org == org and event.actor == member and event.metadata["target"] == RULE_ID
    # Evaluated right after saving: only the chosen connection, only the matching resource.
    assert open_findings(org, RULE_ID, conn) == {"web-1"}
    assert open_findings(org, RULE_ID, conn2) == set()
    finding = Finding.objects.for_org(org).get(rule_id=RULE_ID)
    assert finding.rule_source == "custom" and finding.category == "hygiene"


def test_rule_on_every_connection_when_none_chosen(
    client_for, member, org, conn, conn2, fleet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(member).post(url("custom_rule_new", org), form_data())
    assert open_findings(org, RULE_ID) == {"web-1", "stage-1"}


def test_preview_fragment_counts_and_lists_samples(client_for, member, org, conn, fleet):
    response = client_for(member).post(
        url("custom_rule_preview", org), form_data(connections=[conn]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Matches 1 of 2 resources" in body and "web-1" in body
    assert f"/o/{org.slug}/resources/{fleet['untagged'].pk}/" in body
    assert "<html" not in body  # a fragment
    assert not CustomRule.objects.for_org(org).exists()  # a preview saves nothing


def test_preview_without_javascript_shows_the_page(client_for, member, org, conn, fleet):
    response = client_for(member).post(url("custom_rule_new", org), form_data(action="preview"))
    assert response.status_code == 200
    assert "Matches 2 of 3 resources" in response.content.decode()
    assert not CustomRule.objects.for_org(org).exists()


BROKEN = [
    pytest.param("id: x\ntitle: [oops\n", "(yaml)", "line", id="broken-yaml"),
    pytest.param(
        EXAMPLE_RULE.replace("config.state", "config.stat"),
        "condition.all[0].path",
        "unknown field",
        id="unknown-field",
    ),
    pytest.param(EXAMPLE_RULE.replace("op: equals", "op: equal"), "condition.all[0].op", "unknown op", id="unknown-op"),
    pytest.param("id: a\n---\nid: b\n", "(document)", "several YAML documents", id="several-documents"),
]


@pytest.mark.parametrize(("source", "path", "problem"), BROKEN)
def test_save_shows_each_problem_with_its_path_and_keeps_the_text(client_for, member, org, source, path, problem):
    response = client_for(member).post(url("custom_rule_new", org), form_data(source))
    assert response.status_code == 400
    body = response.content.decode()
    assert f"<code>{path}</code>" in body and problem in body
    form = response.context["form"]
    assert form["source"].value() == source  # the text is kept in the editor
    assert not CustomRule.objects.for_org(org).exists()


@pytest.mark.parametrize(("source", "path", "problem"), BROKEN)
def test_preview_shows_the_problems(client_for, member, org, source, path, problem):
    response = client_for(member).post(url("custom_rule_preview", org), form_data(source))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"<code>{path}</code>" in body and problem in body


def test_duplicate_id_is_a_form_error(client_for, member, org, conn):
    make_rule(org)
    response = client_for(member).post(url("custom_rule_new", org), form_data())
    assert response.status_code == 400
    assert "already" in response.content.decode() and RULE_ID in response.content.decode()
    assert CustomRule.objects.for_org(org).count() == 1


def test_same_id_in_another_org_is_fine(client_for, member, org, outsider):
    theirs = make_rule(outsider.org)
    response = client_for(member).post(url("custom_rule_new", org), form_data())
    assert response.status_code == 302
    ours = CustomRule.objects.for_org(org).get()
    assert ours.rule_id == theirs.rule_id == RULE_ID and ours.pk != theirs.pk
    assert CustomRule.objects.for_org(outsider.org).get() == theirs  # theirs is untouched


def test_connection_of_another_provider_is_refused(client_for, member, org):
    azure = CloudConnectionFactory(org=org, provider="azure", auth_method="azure_sp", name="Azure prod")
    response = client_for(member).post(url("custom_rule_new", org), form_data(connections=[azure]))
    assert response.status_code == 400 and "Azure prod" in response.content.decode()


def test_connection_of_another_org_is_not_a_choice(client_for, member, org, outsider):
    theirs = CloudConnectionFactory(org=outsider.org)
    response = client_for(member).post(url("custom_rule_new", org), form_data(connections=[theirs]))
    assert response.status_code == 400 and not CustomRule.objects.for_org(org).exists()


def test_edit_changes_the_rule_and_reevaluates(
    client_for, member, org, conn, fleet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        custom = make_rule(org)
    assert open_findings(org, RULE_ID) == {"web-1", "stage-1"}
    edit = url("custom_rule_edit", org, custom_rule_id=custom.pk)
    page = client_for(member).get(edit)
    assert page.status_code == 200 and "ec2-running-without-owner" in page.content.decode()
    # Now the rule wants a Team tag: web-2 (Owner only) matches too.
    changed = EXAMPLE_RULE.replace("tags.Owner", "tags.Team")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(edit, form_data(changed, connections=[conn]))
    assert response.status_code == 302
    custom.refresh_from_db()
    assert "tags.Team" in custom.source and list(
        custom.connections.through.objects.values_list("cloudconnection_id", flat=True)
    ) == [conn.pk]
    assert AuditEvent.objects.filter(action=A.RULE_UPDATED, org=org).exists()
    assert open_findings(org, RULE_ID) == {"web-1", "web-2"}  # Staging is out of scope now: resolved


def test_edit_keeps_its_own_id(client_for, member, org):
    # Saving a rule under its own id is no clash with itself: the edit lands on the same row.
    custom = make_rule(org)
    edited = EXAMPLE_RULE.replace("title: Running instance without an Owner tag", "title: Owner tag missing")
    response = client_for(member).post(url("custom_rule_edit", org, custom_rule_id=custom.pk), form_data(edited))
    assert response.status_code == 302
    saved = CustomRule.objects.for_org(org).get()
    assert saved.pk == custom.pk and saved.rule_id == RULE_ID and saved.title == "Owner tag missing"


def test_disable_resolves_and_enable_reopens(client_for, member, org, conn, fleet, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        custom = make_rule(org)
    assert open_findings(org, RULE_ID) == {"web-1", "stage-1"}
    toggle = url("custom_rule_toggle", org, custom_rule_id=custom.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(toggle)
    assert response.status_code == 302
    custom.refresh_from_db()
    assert not custom.enabled and open_findings(org, RULE_ID) == set()
    assert AuditEvent.objects.filter(action=A.RULE_DISABLED, org=org).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        client_for(member).post(toggle)
    custom.refresh_from_db()
    assert custom.enabled and open_findings(org, RULE_ID) == {"web-1", "stage-1"}
    assert AuditEvent.objects.filter(action=A.RULE_ENABLED, org=org).count() == 1


def test_delete_confirms_then_deletes_and_resolves(
    client_for, member, org, conn, fleet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        custom = make_rule(org)
    delete = url("custom_rule_delete", org, custom_rule_id=custom.pk)
    confirm = client_for(member).get(delete)
    assert confirm.status_code == 200 and "2 open findings" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(delete)
    assert response.status_code == 302
    assert not CustomRule.objects.for_org(org).exists()
    assert AuditEvent.objects.get(action=A.RULE_DELETED).metadata["target"] == RULE_ID
    assert open_findings(org, RULE_ID) == set()
    assert Finding.objects.for_org(org).filter(rule_id=RULE_ID, status=Finding.Status.RESOLVED).count() == 2


# --- the catalog and rule pages ------------------------------------------------------------------


def test_rules_page_lists_catalog_and_custom_rules(client_for, member, org, conn):
    custom = make_rule(org, connections=[conn])
    FindingFactory(resource=ResourceFactory(connection=conn), rule_id=RULE_ID, org=org)
    response = client_for(member).get(url("rules", org))
    assert response.status_code == 200
    body = response.content.decode()
    assert custom.title in body and "Production" in body  # scope shown
    assert url("custom_rule_toggle", org, custom_rule_id=custom.pk) in body
    catalog = builtin_catalog()
    assert f"{len(catalog)} rules" in body
    first = next(iter(catalog))
    assert first.id in body


def test_catalog_filters_and_search(client_for, member, org):
    client = client_for(member)
    azure = client.get(url("rules", org), {"provider": "azure"})
    rows = azure.context["rows"]
    assert rows and all("azure" in r.providers for r, _ in rows)
    cost = client.get(url("rules", org), {"category": "cost", "severity": "low"})
    assert all(r.category == "cost" and r.severity == "low" for r, _ in cost.context["rows"])
    search = client.get(url("rules", org), {"q": "unattached volume"})
    assert "aws-ec2-volume-unattached" in [r.id for r, _ in search.context["rows"]]
    cis = client.get(url("rules", org), {"framework": "cis-aws-1.5"})
    assert all("cis-aws-1.5" in r.compliance for r, _ in cis.context["rows"])
    nothing = client.get(url("rules", org), {"q": "zzz-no-such-rule"})
    assert "No rule matches these filters" in nothing.content.decode()
    bogus = client.get(url("rules", org), {"provider": "gcp", "severity": "dire", "page": "x"})
    assert bogus.status_code == 200 and len(bogus.context["rows"]) > 0


def test_catalog_paginates_keeping_filters(client_for, member, org):
    response = client_for(member).get(url("rules", org), {"provider": "aws"})
    page = response.context["page"]
    if page.paginator.num_pages > 1:
        assert "provider=aws&amp;page=2" in response.content.decode()
        second = client_for(member).get(url("rules", org), {"provider": "aws", "page": 2})
        assert second.context["page"].number == 2
    assert len(page.object_list) <= 50


def test_rule_detail_shows_document_fields_and_compliance(client_for, member, org):
    rule = next(r for r in builtin_catalog() if r.compliance)
    response = client_for(member).get(url("rule_detail", org, rule_id=rule.id))
    assert response.status_code == 200
    body = response.content.decode()
    assert rule.title in body and rule.description.split()[0] in body
    assert f"id: {rule.id}" in body  # the YAML document
    path = sorted(rule.fields_read)[0][1]
    assert path in body
    fw, ids = next(iter(rule.compliance.items()))
    assert fw in body and ids[0] in body
    assert rule.references[0] in body


def test_rule_detail_of_unknown_id_is_404(client_for, member, org):
    assert client_for(member).get(url("rule_detail", org, rule_id="no-such-rule")).status_code == 404


def test_rule_detail_of_a_custom_rule_and_redirects(client_for, member, org, outsider):
    custom = make_rule(org)
    client = client_for(member)
    response = client.get(url("rule_detail", org, rule_id=RULE_ID))
    assert response.status_code == 200 and custom.source.splitlines()[2] in response.content.decode()
    assert client.get(url("rule_detail", org, rule_id="baseline-drift"))["Location"] == url("baselines", org)
    assert client.get(url("rule_detail", org, rule_id="policy-12"))["Location"] == url("policies", org)
    theirs = make_rule(outsider.org, EXAMPLE_RULE.replace("ec2-running-without-owner", "theirs-only"))
    assert client.get(url("rule_detail", org, rule_id=theirs.rule_id)).status_code == 404


def test_rules_list_query_count_is_bounded(client_for, member, org, conn, conn2, django_assert_max_num_queries):
    for i in range(30):
        custom = make_rule(
            org, EXAMPLE_RULE.replace("ec2-running-without-owner", f"rule-{i:02d}"), connections=[conn, conn2]
        )
        FindingFactory(resource=ResourceFactory(connection=conn), rule_id=custom.rule_id, org=org)
    client = client_for(member)
    client.get(url("rules", org))  # warm the catalog cache
    with django_assert_max_num_queries(10):
        response = client.get(url("rules", org))
    assert response.status_code == 200 and "rule-29" in response.content.decode()


# --- roles and isolation -------------------------------------------------------------------------


@pytest.mark.parametrize("member_role", ["viewer"])
def test_viewer_sees_lists_but_may_not_write(client_for, member, org, conn):
    custom = make_rule(org)
    client = client_for(member)
    page = client.get(url("rules", org))
    assert page.status_code == 200 and custom.title in page.content.decode()
    assert "Write a custom rule" not in page.content.decode()
    assert url("custom_rule_toggle", org, custom_rule_id=custom.pk) not in page.content.decode()
    assert client.get(url("rule_detail", org, rule_id=RULE_ID)).status_code == 200
    assert client.get(url("custom_rule_new", org)).status_code == 403
    assert client.post(url("custom_rule_new", org), form_data()).status_code == 403
    assert client.post(url("custom_rule_preview", org), form_data()).status_code == 403
    for name in ("custom_rule_edit", "custom_rule_delete"):
        assert client.get(url(name, org, custom_rule_id=custom.pk)).status_code == 403
    for name in ("custom_rule_edit", "custom_rule_toggle", "custom_rule_delete"):
        assert client.post(url(name, org, custom_rule_id=custom.pk)).status_code == 403
    custom.refresh_from_db()
    assert custom.enabled


def test_outsider_gets_404_everywhere(client_for, outsider, org):
    custom = make_rule(org)
    client = client_for(outsider)
    gets = [
        url("rules", org),
        url("rule_detail", org, rule_id="aws-ec2-volume-unattached"),
        url("custom_rule_new", org),
        url("custom_rule_edit", org, custom_rule_id=custom.pk),
        url("custom_rule_delete", org, custom_rule_id=custom.pk),
    ]
    for target in gets:
        assert client.get(target).status_code == 404, target
    posts = [
        url("custom_rule_preview", org),
        url("custom_rule_toggle", org, custom_rule_id=custom.pk),
        url("custom_rule_delete", org, custom_rule_id=custom.pk),
    ]
    for target in posts:
        assert client.post(target).status_code == 404, target
    # Their own organization's URLs with our rule's id: still 404.
    mine = reverse("findings:custom_rule_edit", kwargs={"org_slug": outsider.org.slug, "custom_rule_id": custom.pk})
    assert client.get(mine).status_code == 404
    # And a preview in their org never names a rule of ours for the uniqueness check.
    preview = reverse("findings:custom_rule_preview", kwargs={"org_slug": outsider.org.slug})
    assert client.post(preview, {**form_data(), "custom_rule_id": custom.pk}).status_code == 404
    assert CustomRule.objects.for_org(org).get().enabled
