"""localstripe (PyPI), the stateful fake Stripe of the demo and of the end-to-end tests, bound to
127.0.0.1 only.

localstripe's own command listens on every interface (``::``) and pickles its state to a fixed
``/tmp/localstripe.pickle`` after each write, so two instances (the demo and a test run) would share
one file. This launcher serves the same application on loopback and keeps its state in memory, or in
``--state-file`` (the demo's, next to its database, so customers and subscriptions outlive a restart).
``--seed-prices`` creates the products and prices Cloustral's plans name (the ids in ``PRICE_IDS``);
``--webhook-url``/``--webhook-secret`` make localstripe deliver its signed events there. The server
prints one line per setting for scripts/demo to read.

    python -m tests.fakes.localstripe_server --port 8420 --seed-prices [--state-file data/localstripe.pickle] \
        [--webhook-url http://127.0.0.1:8000/billing/stripe/webhook/ --webhook-secret whsec_...]
"""

from __future__ import annotations

import argparse
import pickle
import socket
from pathlib import Path

# The plans' Stripe price ids in the demo and the end-to-end tests (localstripe calls them plans).
PRICE_IDS: dict[str, dict[str, str]] = {
    "team": {"month": "price_team_monthly", "year": "price_team_yearly"},
    "business": {"month": "price_business_monthly", "year": "price_business_yearly"},
}
AMOUNTS = {"team": {"month": 9900, "year": 99000}, "business": {"month": 49900, "year": 499000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_prices() -> None:
    from localstripe.resources import Plan, store

    for plan, prices in PRICE_IDS.items():
        for interval, price_id in prices.items():
            if f"plan:{price_id}" in store:
                continue  # kept in the state file
            Plan(
                id=price_id,
                amount=AMOUNTS[plan][interval],
                currency="usd",
                interval=interval,
                product={"name": f"Cloustral {plan.title()}"},
                nickname=f"{plan.title()} ({interval}ly)",
            )


def price_ids_setting() -> str:
    """``BILLING_PRICE_IDS`` as the env var reads it: plan:interval=id,..."""
    return ",".join(f"{plan}:{interval}={pid}" for plan, ids in PRICE_IDS.items() for interval, pid in ids.items())


async def _seed_on_startup(app) -> None:
    seed_prices()


def _keep_state(store, path: str) -> None:
    """In memory, or in ``path`` (loaded now, written after each change) instead of localstripe's /tmp file."""
    if not path:
        store.dump_to_disk = lambda: None
        return
    state = Path(path)
    if state.exists():
        with state.open("rb") as f:
            store.update(pickle.load(f))  # noqa: S301 - our own file, written below

    def dump() -> None:
        tmp = state.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(state)

    store.dump_to_disk = dump


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--seed-prices", action="store_true")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--state-file", default="")
    args = parser.parse_args()

    from aiohttp import web
    from localstripe import resources, server
    from localstripe.webhooks import register_webhook

    _keep_state(resources.store, args.state_file)
    if args.seed_prices:
        # Inside the server's event loop: creating a price schedules a (webhook) task on it.
        server.app.on_startup.append(_seed_on_startup)
    if args.webhook_url and args.webhook_secret:
        register_webhook("cloustral", args.webhook_url, args.webhook_secret, None)
    print(f"STRIPE_API_BASE=http://127.0.0.1:{args.port}", flush=True)
    print(f"STRIPE_JS_URL=http://127.0.0.1:{args.port}/js.stripe.com/v3/", flush=True)
    print(f"BILLING_PRICE_IDS={price_ids_setting()}", flush=True)
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
