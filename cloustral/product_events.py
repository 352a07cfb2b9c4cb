"""Product analytics events ("a scan started", "a rule created", "an export"), sent where the action
happens and delivered to analytics by the privacy app, only with the person's consent.

Defined here, at the bottom layer, so inventory or findings can send one without importing the app
above them that receives it (docs/privacy.md). Properties describe the use of the product (a
provider, a format, a severity), never cloud data contents: no names, ARNs, tags or configurations.
The receiver keeps only the properties its catalogue allows and drops every other value.
"""

from __future__ import annotations

from django.dispatch import Signal
from django.http import HttpRequest

# kwargs: request (the person's request; events without one are dropped), name, properties (dict)
product_event = Signal()


def emit(request: HttpRequest | None, name: str, **properties: str | int | bool) -> None:
    """Report that the person behind ``request`` did ``name``. A no-op without a request (commands,
    tasks): only a browser whose owner consented ever sends an event on."""
    if request is None:
        return
    product_event.send(sender=__name__, request=request, name=name, properties=properties)
