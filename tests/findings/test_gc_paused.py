"""The rule engine pauses Python's cyclic garbage collector while it indexes and evaluates (millions of
lists, none of them garbage), and always turns it back on, even when a rule runs out of time."""

from __future__ import annotations

import gc
import importlib

import pytest

engine = importlib.import_module("findings.rules.evaluate")  # the package exports a function of that name


def test_the_collector_is_paused_inside_and_back_on_after_even_on_an_error():
    seen = []
    with engine.gc_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError), engine.gc_paused():
        raise RuntimeError("a rule ran out of time")
    assert gc.isenabled()


def test_an_index_and_an_evaluation_leave_the_collector_on():
    index = engine.ResourceIndex(
        [{"id": 1, "resource_type": "aws.s3.bucket", "region": "us-east-1", "connection_id": 1, "config": {}}],
        [(1, 1, "self")],
    )
    engine.evaluate([], index)
    assert gc.isenabled() and len(index) == 1 and index.relationship_count == 1


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        with engine.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
