"""Azure collectors: one function per resource type (``@collector("azure", ...)``), run per subscription
in an ``AzureContext`` (inventory.collectors.azure.context). Native ids are Azure resource ids, lowercased
(``_util.rid``), in records, relationships and config alike."""
