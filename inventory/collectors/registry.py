"""Imports every collector module so that their @collector decorators register them."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    from inventory.collectors import aws, azure

    for package in (aws, azure):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
