"""Azure SQL (azure-mgmt-sql): logical servers with their firewall rules, auditing policy and Microsoft
Entra administrator; and their databases (system databases such as master excluded).

Relationships: database → server ``member_of``, every resource → its resource group ``in_resource_group``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from inventory.collectors.aws._util import fan_out
from inventory.collectors.azure._util import Details, iso, location, props, record, resource_group_of, rid, sku_name
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector


def _tls(value: object) -> str | None:
    # "None" is how newer api-versions say "no minimum"; the rules read null for that.
    return None if value in (None, "", "None") else str(value)


@collector("azure", "sql.server", service="Microsoft.Sql", regional=False)
def servers(ctx: AzureContext) -> Iterator[ResourceRecord]:
    found = list(ctx.items("sql", "servers.list"))
    yield from fan_out(ctx, partial(_server_record, ctx), found)


def _server_record(ctx: AzureContext, server: dict) -> ResourceRecord:
    p = props(server)
    group, name = resource_group_of(str(server.get("id") or "")), server.get("name")
    details = Details(ctx)
    rules = details.items("firewall_rules", "sql", "firewall_rules.list_by_server", group, name)
    auditing = details.get("auditing_enabled", "sql", "server_blob_auditing_policies.get", group, name)
    administrators = p.get("administrators") or {}
    if administrators.get("login") or administrators.get("sid"):
        aad_admin: bool | None = True
    else:  # older api-versions do not inline the administrator
        admins = details.items(
            "aad_admin_configured", "sql", "server_azure_ad_administrators.list_by_server", group, name
        )
        aad_admin = None if admins is None else bool(admins)
    identity = server.get("identity") if isinstance(server.get("identity"), dict) else {}
    config = {
        "version": p.get("version"),
        "state": p.get("state"),
        "fqdn": p.get("fullyQualifiedDomainName"),
        "administrator_login": p.get("administratorLogin"),
        "public_network_access": p.get("publicNetworkAccess"),
        "minimal_tls_version": _tls(p.get("minimalTlsVersion")),
        "restrict_outbound_network_access": p.get("restrictOutboundNetworkAccess"),
        "firewall_rules": None
        if rules is None
        else sorted(
            (
                {
                    "name": rule.get("name"),
                    "start_ip": props(rule).get("startIpAddress"),
                    "end_ip": props(rule).get("endIpAddress"),
                }
                for rule in rules
            ),
            key=lambda rule: str(rule["name"]),
        ),
        "auditing_enabled": None if auditing is None else str(props(auditing).get("state") or "").lower() == "enabled",
        "aad_admin_configured": aad_admin,
        "aad_only_authentication": administrators.get("azureADOnlyAuthentication"),
        "private_endpoint_count": len(p.get("privateEndpointConnections") or []),
        "identity_type": identity.get("type"),
    }
    return record(server, details.finish(config))


@collector("azure", "sql.database", service="Microsoft.Sql", regional=False)
def databases(ctx: AzureContext) -> Iterator[ResourceRecord]:
    found = list(ctx.items("sql", "servers.list"))
    for batch in fan_out(ctx, partial(_server_databases, ctx), found):
        yield from batch


def _server_databases(ctx: AzureContext, server: dict) -> list[ResourceRecord]:
    group = resource_group_of(str(server.get("id") or ""))
    found = ctx.items("sql", "databases.list_by_server", group, server.get("name"))
    return [_database_record(server, db) for db in found if "system" not in str(db.get("kind") or "").lower()]


def _database_record(server: dict, db: dict) -> ResourceRecord:
    p = props(db)
    sku = db.get("sku") if isinstance(db.get("sku"), dict) else {}
    config = {
        "server_id": rid(server.get("id")),
        "status": p.get("status"),
        "sku": sku_name(db),
        "tier": sku.get("tier"),
        "capacity": sku.get("capacity"),
        "max_size_bytes": p.get("maxSizeBytes"),
        "zone_redundant": p.get("zoneRedundant"),
        "collation": p.get("collation"),
        "elastic_pool_id": rid(p.get("elasticPoolId")) or None,
        "backup_storage_redundancy": p.get("currentBackupStorageRedundancy")
        or p.get("requestedBackupStorageRedundancy"),
        "ledger_on": p.get("isLedgerOn"),
        "creation_date": iso(p.get("creationDate")),
    }
    return record(db, config, [Rel("member_of", rid(server.get("id")))], region=location(server))
