"""Azure compute (azure-mgmt-compute): virtual machines, managed disks and snapshots.

Relationships: disk → VM ``attached_to`` (from the disk's ``managedBy``), snapshot → source disk
``snapshot_of``, every resource → its resource group ``in_resource_group``. NIC → VM ``attached_to`` is
emitted by the network interface collector (the NIC names its VM).
"""

from __future__ import annotations

from collections.abc import Iterator

from inventory.collectors.azure._util import Details, iso, props, record, rid, sku_name
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import Rel, ResourceRecord, collector

_ENCRYPTION = {
    "encryptionatrestwithplatformkey": "platform_key",
    "encryptionatrestwithcustomerkey": "customer_key",
    "encryptionatrestwithplatformandcustomerkeys": "platform_and_customer_key",
}


def power_state(instance_view: dict | None) -> str | None:
    """ "PowerState/deallocated" among the instance view's statuses → "deallocated"."""
    for status in (instance_view or {}).get("statuses") or []:
        code = str(status.get("code") or "")
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def disk_encryption(vm_disk: dict, disks: dict[str, dict] | None) -> str:
    """How one of a VM's disks is encrypted: none | platform_key | customer_key | platform_and_customer_key
    | ade. Managed disks are always encrypted at rest (platform key at least); the disk's own record says
    which keys, else a disk encryption set on the VM's reference means customer keys. An unmanaged (VHD)
    disk has no disk-level encryption Azure can report, so it is "none" unless Azure Disk Encryption is on."""
    if (vm_disk.get("encryptionSettings") or {}).get("enabled"):
        return "ade"
    managed = vm_disk.get("managedDisk")
    if not isinstance(managed, dict):
        return "none"
    disk = (disks or {}).get(rid(managed))
    if disk is not None:
        p = props(disk)
        if (p.get("encryptionSettingsCollection") or {}).get("enabled"):
            return "ade"
        found = _ENCRYPTION.get(str((p.get("encryption") or {}).get("type") or "").lower())
        if found:
            return found
    if rid(managed.get("diskEncryptionSet")) or rid((managed.get("securityProfile") or {}).get("diskEncryptionSet")):
        return "customer_key"
    return "platform_key"


def _disk_size(vm_disk: dict, disks: dict[str, dict] | None) -> int | None:
    size = vm_disk.get("diskSizeGB")
    if size is None and isinstance(vm_disk.get("managedDisk"), dict):
        size = props((disks or {}).get(rid(vm_disk["managedDisk"])) or {}).get("diskSizeGB")
    return int(size) if size is not None else None


@collector("azure", "compute.vm", service="Microsoft.Compute", regional=False)
def virtual_machines(ctx: AzureContext) -> Iterator[ResourceRecord]:
    vms = list(ctx.items("compute", "virtual_machines.list_all"))
    if not vms:
        return
    details = Details(ctx)
    # Two more subscription-wide calls instead of one per VM: run states, and the disks' encryption.
    statuses = details.items("power_state", "compute", "virtual_machines.list_all", status_only="true")
    views = {rid(v): props(v).get("instanceView") for v in statuses or []}
    listed = details.items("disk_encryption", "compute", "disks.list")
    disks = {rid(d): d for d in listed} if listed is not None else None
    for vm in vms:
        yield _vm_record(vm, views, disks, list(details.unreadable))


def _vm_record(vm: dict, views: dict[str, dict | None], disks: dict[str, dict] | None, unreadable: list[str]):
    p = props(vm)
    storage = p.get("storageProfile") or {}
    os_disk = storage.get("osDisk") or {}
    data_disks = storage.get("dataDisks") or []
    os_profile = p.get("osProfile") or {}
    security = p.get("securityProfile") or {}
    uefi = security.get("uefiSettings") or {}
    image = storage.get("imageReference") or {}
    os_type = os_disk.get("osType") or (
        "Linux"
        if os_profile.get("linuxConfiguration")
        else "Windows"
        if os_profile.get("windowsConfiguration")
        else None
    )
    view = p.get("instanceView") or views.get(rid(vm))
    identity = vm.get("identity") if isinstance(vm.get("identity"), dict) else {}
    config = {
        "vm_id": p.get("vmId"),
        "vm_size": (p.get("hardwareProfile") or {}).get("vmSize"),
        "power_state": power_state(view),
        "provisioning_state": p.get("provisioningState"),
        "os_type": os_type,
        "computer_name": os_profile.get("computerName"),
        "admin_username": os_profile.get("adminUsername"),
        "password_authentication_disabled": (os_profile.get("linuxConfiguration") or {}).get(
            "disablePasswordAuthentication"
        ),
        "image": {
            "publisher": image.get("publisher"),
            "offer": image.get("offer"),
            "sku": image.get("sku"),
            "version": image.get("exactVersion") or image.get("version"),
            "id": rid(image.get("id")) or None,
        },
        "managed_disks": all(isinstance(d.get("managedDisk"), dict) for d in [os_disk, *data_disks]),
        "os_disk": {
            "name": os_disk.get("name"),
            "id": rid(os_disk.get("managedDisk")) or None,
            "managed": isinstance(os_disk.get("managedDisk"), dict),
            "size_gb": _disk_size(os_disk, disks),
            "storage_account_type": (os_disk.get("managedDisk") or {}).get("storageAccountType"),
        },
        "os_disk_encryption": disk_encryption(os_disk, disks),
        "encryption_at_host": bool(security.get("encryptionAtHost")),
        "security_type": security.get("securityType"),
        "secure_boot": uefi.get("secureBootEnabled"),
        "vtpm": uefi.get("vTpmEnabled"),
        "data_disks": [
            {
                "name": d.get("name"),
                "lun": d.get("lun"),
                "id": rid(d.get("managedDisk")) or None,
                "managed": isinstance(d.get("managedDisk"), dict),
                "size_gb": _disk_size(d, disks),
                "encryption": disk_encryption(d, disks),
            }
            for d in data_disks
        ],
        "nic_ids": sorted({rid(n) for n in (p.get("networkProfile") or {}).get("networkInterfaces") or []} - {""}),
        "boot_diagnostics": ((p.get("diagnosticsProfile") or {}).get("bootDiagnostics") or {}).get("enabled"),
        "identity_type": identity.get("type"),
        "availability_set_id": rid(p.get("availabilitySet")) or None,
        "zones": sorted(vm.get("zones") or []),
        "priority": p.get("priority"),
        "license_type": p.get("licenseType"),
        "time_created": iso(p.get("timeCreated")),
        "unreadable": sorted(unreadable),
    }
    return record(vm, config)


@collector("azure", "compute.disk", service="Microsoft.Compute", regional=False)
def disks(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for disk in ctx.items("compute", "disks.list"):
        p = props(disk)
        managed_by = rid(disk.get("managedBy")) or None
        shared_with = sorted({rid(v) for v in disk.get("managedByExtended") or []} - {"", managed_by or ""})
        state = p.get("diskState")
        sku = disk.get("sku") if isinstance(disk.get("sku"), dict) else {}
        encryption = p.get("encryption") or {}
        creation = p.get("creationData") or {}
        config = {
            "disk_state": state,
            "attached": bool(managed_by or shared_with) or state in ("Attached", "Reserved"),
            "managed_by": managed_by,
            "size_gb": p.get("diskSizeGB"),
            "sku": sku_name(disk),
            "tier": p.get("tier") or sku.get("tier"),
            "os_type": p.get("osType"),
            "encryption_type": encryption.get("type"),
            "disk_encryption_set_id": rid(encryption.get("diskEncryptionSetId")) or None,
            "ade_enabled": bool((p.get("encryptionSettingsCollection") or {}).get("enabled")),
            "network_access_policy": p.get("networkAccessPolicy"),
            "public_network_access": p.get("publicNetworkAccess"),
            "create_option": creation.get("createOption"),
            "source_resource_id": rid(creation.get("sourceResourceId")) or None,
            "iops": p.get("diskIOPSReadWrite"),
            "mbps": p.get("diskMBpsReadWrite"),
            "zones": sorted(disk.get("zones") or []),
            "time_created": iso(p.get("timeCreated")),
            "provisioning_state": p.get("provisioningState"),
        }
        rels = [Rel("attached_to", managed_by or "")] + [Rel("attached_to", vm) for vm in shared_with]
        yield record(disk, config, rels)


@collector("azure", "compute.snapshot", service="Microsoft.Compute", regional=False)
def snapshots(ctx: AzureContext) -> Iterator[ResourceRecord]:
    for snapshot in ctx.items("compute", "snapshots.list"):
        p = props(snapshot)
        creation = p.get("creationData") or {}
        source = rid(creation.get("sourceResourceId")) or None
        encryption = p.get("encryption") or {}
        config = {
            "size_gb": p.get("diskSizeGB"),
            "sku": sku_name(snapshot),
            "incremental": bool(p.get("incremental")),
            "os_type": p.get("osType"),
            "source_resource_id": source,
            "create_option": creation.get("createOption"),
            "encryption_type": encryption.get("type"),
            "disk_encryption_set_id": rid(encryption.get("diskEncryptionSetId")) or None,
            "network_access_policy": p.get("networkAccessPolicy"),
            "public_network_access": p.get("publicNetworkAccess"),
            "disk_state": p.get("diskState"),
            "time_created": iso(p.get("timeCreated")),
            "provisioning_state": p.get("provisioningState"),
        }
        yield record(snapshot, config, [Rel("snapshot_of", source or "")])
