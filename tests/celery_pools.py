"""Broker connections for tests that start a real Celery worker.

kombu keeps connection and producer pools in module-level registries keyed by broker URL and shared by
every app, and Celery caches one of each on the app. A test that switches transports (filesystem for the
demo-like worker, Redis in CI) must drop all of them, or the next test acquires from a closed pool.
"""

from __future__ import annotations


def forget_broker_connections(app) -> None:
    from kombu import pools

    pools.reset()  # closes every registered pool and empties the registries
    app._pool = None
    app.amqp._producer_pool = None
