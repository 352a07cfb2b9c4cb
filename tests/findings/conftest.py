"""Findings tests see re-evaluations happen: a rule, policy or baseline change queues an evaluation
task, which must run in-process even when REDIS_URL points Celery at a broker (CI)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _eager_celery():
    from cloustral.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
