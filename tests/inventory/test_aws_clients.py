"""A sync's boto3 clients: every session shares one botocore loader (service models parsed once per
process, not per sync), each keeps its own credentials, and a worker's API calls never wait for another
worker creating a client."""

from __future__ import annotations

import threading
from unittest import mock

import boto3

from connections.providers import aws as aws_provider
from connections.providers.aws import SHARED_LOADER, AwsCredentials, session_for
from inventory.collectors.aws.context import AwsContext
from tests.inventory.collector_helpers import ACCOUNT_ID, moto_account

KEYS_A = AwsCredentials(access_key_id="AKIAAAAAEXAMPLE00001", secret_access_key="secret-a")
KEYS_B = AwsCredentials(access_key_id="AKIABBBBEXAMPLE00002", secret_access_key="secret-b")


def test_sessions_share_one_loader_and_keep_their_own_credentials(monkeypatch):
    with moto_account(monkeypatch):
        first, second = session_for(KEYS_A), session_for(KEYS_B)
        assert first._loader is SHARED_LOADER and second._loader is SHARED_LOADER
        assert first._session.get_component("data_loader") is SHARED_LOADER
        assert first.get_credentials().access_key == KEYS_A.access_key_id
        assert second.get_credentials().access_key == KEYS_B.access_key_id
        assert first.client("sts", region_name="eu-west-1").get_caller_identity()["Account"] == ACCOUNT_ID


def test_a_service_model_is_read_once_for_every_session(monkeypatch):
    with moto_account(monkeypatch):
        session_for(KEYS_A).client("sqs", region_name="eu-west-1")
        with mock.patch.object(
            SHARED_LOADER.file_loader, "load_file", wraps=SHARED_LOADER.file_loader.load_file
        ) as read:
            client = session_for(KEYS_B).client("sqs", region_name="us-west-2")
        assert read.call_count == 0  # nothing read from disk again: models, paginators, endpoint rules
        assert client.list_queues().get("QueueUrls", []) == []


def test_the_shared_loader_search_paths_do_not_grow_with_sessions():
    aws_provider.new_session()  # boto3 appends its data directory: once
    before = list(SHARED_LOADER.search_paths)
    for _ in range(5):
        aws_provider.new_session()
    assert SHARED_LOADER.search_paths == before


def test_a_client_is_created_only_for_a_service_called(monkeypatch):
    with moto_account(monkeypatch):
        ctx = AwsContext(boto3.Session(), ACCOUNT_ID, "eu-west-1")
        with mock.patch.object(ctx.session, "client", wraps=ctx.session.client) as created:
            ctx.call("sts", "get_caller_identity")
            ctx.call("sts", "get_caller_identity")
        assert list(ctx._clients) == ["sts"]
        assert created.call_count == 1
        assert ctx.api_calls == 2


def test_calls_do_not_wait_for_a_client_being_created(monkeypatch):
    with moto_account(monkeypatch):
        ctx = AwsContext(boto3.Session(), ACCOUNT_ID, "eu-west-1")
        ctx.client("sts")
        answers = []
        with ctx._lock:  # another worker of this region is creating a client (waiting for the session)
            worker = threading.Thread(target=lambda: answers.append(ctx.call("sts", "get_caller_identity")))
            worker.start()
            worker.join(timeout=10)
            finished = not worker.is_alive()
        worker.join()
        assert finished, "an API call on an existing client waited for another client's creation"
        assert answers[0]["Account"] == ACCOUNT_ID
        assert ctx.api_calls == 1
