from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from loginsvc.config import CHEAPEST, Settings
from loginsvc.defaults import (
    DEFAULT_SIGNING_KEY_ID,
    DEFAULT_TENANT_ID,
    FUSIONAUTH_APPLICATION_ID,
)
from loginsvc.kickstart import (
    Kickstart,
    KickstartError,
    KickstartRequest,
    load_kickstart,
    run_kickstart,
)
from loginsvc.serve import _kickstart_once

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.
# ruff: noqa: SIM300

DEMO = Path(__file__).resolve().parents[1] / "deploy" / "kickstart" / "demo.json"


def write(directory: Path, document: object, name: str = "kickstart.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(document))
    return path


def one_request(directory: Path, body: object, **extra: object) -> Path:
    document = {
        "apiKeys": [{"key": "k" * 40}],
        "requests": [{"method": "POST", "url": "/api/user", "body": body}],
        **extra,
    }
    return write(directory, document)


def test_variables_are_substituted_inside_strings(tmp_path):
    """
    A ``#{name}`` is replaced wherever it sits in a string value.
    """
    path = one_request(
        tmp_path,
        {"user": {"email": "admin@#{domain}", "data": {"n": 3}}},
        variables={"domain": "example.com"},
    )

    kickstart = load_kickstart(path, {})

    expected = {"user": {"email": "admin@example.com", "data": {"n": 3}}}
    assert expected == kickstart.requests[0].body


def test_variables_may_use_the_environment_and_each_other(tmp_path):
    """
    A variable's value is itself substituted, ``#{ENV.X}`` included.
    """
    variables = {"email": "#{user}@#{ENV.DEMO_DOMAIN}", "user": "admin"}
    path = one_request(tmp_path, {"email": "#{email}"}, variables=variables)

    kickstart = load_kickstart(path, {"DEMO_DOMAIN": "example.org"})

    assert {"email": "admin@example.org"} == kickstart.requests[0].body


def test_each_uuid_placeholder_is_a_fresh_uuid(tmp_path):
    """
    Two ``#{UUID()}`` occurrences give two different, valid UUIDs.
    """
    path = one_request(tmp_path, {"a": "#{UUID()}", "b": "#{UUID()}"})

    body = load_kickstart(path, {}).requests[0].body

    assert isinstance(body, dict)
    assert body["a"] != body["b"]
    assert 4 == uuid.UUID(body["a"]).version


def test_a_uuid_variable_names_the_same_id_everywhere(tmp_path):
    """
    A variable set to ``#{UUID()}`` is resolved once and reused.
    """
    path = one_request(
        tmp_path, {"a": "#{appId}", "b": "#{appId}"}, variables={"appId": "#{UUID()}"}
    )

    body = load_kickstart(path, {}).requests[0].body

    assert isinstance(body, dict)
    assert body["a"] == body["b"]


def test_built_in_ids_are_substituted(tmp_path):
    """
    The FusionAuth application, default tenant and signing key ids are known.
    """
    body = {
        "app": "#{FUSIONAUTH_APPLICATION_ID}",
        "tenant": "#{FUSIONAUTH_TENANT_ID}",
        "key": "#{FUSIONAUTH_DEFAULT_SIGNING_KEY_ID}",
    }
    path = one_request(tmp_path, body)

    kickstart = load_kickstart(path, {})

    expected = {
        "app": FUSIONAUTH_APPLICATION_ID,
        "tenant": DEFAULT_TENANT_ID,
        "key": DEFAULT_SIGNING_KEY_ID,
    }
    assert expected == kickstart.requests[0].body
    assert DEFAULT_TENANT_ID == kickstart.default_tenant_id


def test_default_tenant_id_variable_overrides_the_built_in_tenant(tmp_path):
    """
    ``defaultTenantId`` sets what ``#{FUSIONAUTH_TENANT_ID}`` means.
    """
    tenant = "0a1b2c3d-0000-4000-8000-000000000001"
    path = one_request(
        tmp_path,
        {"tenant": "#{FUSIONAUTH_TENANT_ID}"},
        variables={"defaultTenantId": tenant},
    )

    kickstart = load_kickstart(path, {})

    assert {"tenant": tenant} == kickstart.requests[0].body
    assert tenant == kickstart.default_tenant_id


def test_a_backslash_escapes_a_literal_placeholder(tmp_path):
    r"""
    ``\#{name}`` stays as the text ``#{name}``.
    """
    path = one_request(
        tmp_path, {"text": "\\#{notAVariable} and #{x}"}, variables={"x": "1"}
    )

    kickstart = load_kickstart(path, {})

    assert {"text": "#{notAVariable} and 1"} == kickstart.requests[0].body


def test_placeholders_in_api_keys_are_replaced(tmp_path):
    """
    Placeholders inside ``apiKeys`` are replaced too.
    """
    path = write(
        tmp_path,
        {
            "variables": {"apiKey": "#{ENV.KEY}"},
            "apiKeys": [{"key": "#{apiKey}", "description": "for #{ENV.WHO}"}],
        },
    )

    kickstart = load_kickstart(path, {"KEY": "from-env", "WHO": "ops"})

    assert [{"key": "from-env", "description": "for ops"}] == kickstart.api_keys


def test_text_include_becomes_a_string(tmp_path):
    """
    ``"@{file}"`` is replaced by the file's text, with placeholders resolved.
    """
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mail.html").write_text('<p>"Hi" #{name}</p>\n')
    path = one_request(
        tmp_path, {"html": "@{templates/mail.html}"}, variables={"name": "Ann"}
    )

    kickstart = load_kickstart(path, {})

    assert {"html": '<p>"Hi" Ann</p>\n'} == kickstart.requests[0].body


def test_json_include_can_be_a_body_or_a_whole_request(tmp_path):
    """
    ``"&{file.json}"`` is replaced by the parsed JSON, nested includes included.
    """
    write(tmp_path, {"application": {"id": "#{appId}", "name": "Demo"}}, "app.json")
    write(
        tmp_path,
        {"method": "POST", "url": "/api/application/#{appId}", "body": "&{app.json}"},
        "request.json",
    )
    path = write(
        tmp_path,
        {
            "variables": {"appId": "#{UUID()}"},
            "apiKeys": [{"key": "k" * 40}],
            "requests": ["&{request.json}"],
        },
    )

    kickstart = load_kickstart(path, {})

    request = kickstart.requests[0]
    assert isinstance(request.body, dict)
    app_id = request.body["application"]["id"]
    assert f"/api/application/{app_id}" == request.url
    assert "Demo" == request.body["application"]["name"]


def test_request_fields_are_read(tmp_path):
    """
    Method, url, tenantId and contentType come through; the method is uppercased.
    """
    path = write(
        tmp_path,
        {
            "apiKeys": [{"key": "k" * 40}],
            "requests": [
                {
                    "method": "patch",
                    "url": "/api/user/1",
                    "tenantId": "#{FUSIONAUTH_TENANT_ID}",
                    "contentType": "application/merge-patch+json",
                    "body": {"user": {"firstName": "A"}},
                }
            ],
        },
    )

    request = load_kickstart(path, {}).requests[0]

    expected = KickstartRequest(
        method="PATCH",
        url="/api/user/1",
        body={"user": {"firstName": "A"}},
        tenant_id=DEFAULT_TENANT_ID,
        content_type="application/merge-patch+json",
    )
    assert expected == request


def test_the_demo_kickstart_file_loads():
    """
    ``deploy/kickstart/demo.json`` parses and starts with a global key.
    """
    kickstart = load_kickstart(DEMO, {})

    assert "tenantId" not in kickstart.api_keys[0]
    assert ["POST", "POST"] == [request.method for request in kickstart.requests]


@pytest.mark.parametrize(
    ("document", "environ", "culprit"),
    [
        (
            {"requests": [{"method": "POST", "url": "/x", "body": "#{nope}"}]},
            {},
            "'nope'",
        ),
        (
            {"requests": [{"method": "POST", "url": "/x", "body": "#{ENV.GONE}"}]},
            {},
            "'GONE'",
        ),
        (
            {"requests": [{"method": "POST", "url": "/x", "body": "&{missing.json}"}]},
            {},
            "missing.json",
        ),
        (
            {"requests": [{"method": "POST", "url": "/x", "body": "@{missing.txt}"}]},
            {},
            "missing.txt",
        ),
        (
            {"variables": {"a": "#{b}", "b": "#{a}"}, "apiKeys": [{"key": "#{a}"}]},
            {},
            "refers to itself",
        ),
        ({"variables": {"n": 1}}, {}, "'n'"),
        ({"requests": [{"method": "DELETE", "url": "/x"}]}, {}, "request 0"),
        ({"requests": [{"method": "POST", "url": "api/x"}]}, {}, "'url'"),
        ({"apiKeys": [{"description": "no key"}]}, {}, "API key 0"),
        ({"apiKeys": [{"key": "k", "tenantId": "t"}]}, {}, "must be global"),
    ],
)
def test_errors_name_the_culprit(tmp_path, document, environ, culprit):
    """
    Every kickstart error is one sentence naming what is wrong.
    """
    path = write(tmp_path, document)

    with pytest.raises(KickstartError) as raised:
        load_kickstart(path, environ)

    assert culprit in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_kickstart_file_is_named(tmp_path):
    """
    The error names the path that was not found.
    """
    path = tmp_path / "absent.json"

    with pytest.raises(KickstartError) as raised:
        load_kickstart(path, {})

    assert f"The kickstart file '{path}' was not found." == str(raised.value)


def test_invalid_json_is_named_with_its_position(tmp_path):
    """
    A syntax error names the file, line and column.
    """
    path = tmp_path / "bad.json"
    path.write_text('{"apiKeys": [}\n')

    with pytest.raises(KickstartError) as raised:
        load_kickstart(path, {})

    assert "'" + str(path) + "' is not valid JSON" in str(raised.value)
    assert "line 1 column 14" in str(raised.value)


def test_an_invalid_json_include_is_named(tmp_path):
    """
    A syntax error inside an ``&{}`` include names the included file.
    """
    (tmp_path / "body.json").write_text("{nope")
    path = one_request(tmp_path, "&{body.json}")

    with pytest.raises(KickstartError) as raised:
        load_kickstart(path, {})

    assert "body.json' is not valid JSON" in str(raised.value)


class Recorder:
    """
    Fake ``create_api_key`` and ``send`` that record their calls.
    """

    def __init__(self, statuses: list[int], failure_body: bytes = b"") -> None:
        self.statuses = statuses
        self.failure_body = failure_body
        self.keys: list[dict[str, object]] = []
        self.sent: list[tuple[str, str, str]] = []

    async def create_api_key(self, spec: dict[str, object]) -> None:
        self.keys.append(spec)

    async def send(self, request: KickstartRequest, key: str) -> tuple[int, bytes]:
        self.sent.append((request.method, request.url, key))
        status = self.statuses[len(self.sent) - 1]
        return status, b"{}" if status < 300 else self.failure_body


def kickstart_with(count: int) -> Kickstart:
    return Kickstart(
        api_keys=[{"key": "first-key"}, {"key": "second-key", "tenantId": "t"}],
        requests=[KickstartRequest("POST", f"/api/thing/{i}") for i in range(count)],
    )


async def test_run_kickstart_creates_keys_then_sends_in_order_with_the_first_key():
    """
    Every key is created before any request; all requests use the first key.
    """
    recorder = Recorder([200, 201, 200])

    await run_kickstart(kickstart_with(3), recorder.create_api_key, recorder.send)

    assert ["first-key", "second-key"] == [spec["key"] for spec in recorder.keys]
    expected = [("POST", f"/api/thing/{i}", "first-key") for i in range(3)]
    assert expected == recorder.sent


async def test_run_kickstart_stops_at_the_first_failure_and_names_it(caplog):
    """
    A non-2xx answer raises an error naming the request and its error codes.
    """
    body = json.dumps(
        {
            "fieldErrors": {
                "user.email": [{"code": "[duplicate]user.email", "message": "x@y"}]
            },
            "generalErrors": [{"code": "[Busy]", "message": "secret detail"}],
        }
    ).encode()
    recorder = Recorder([200, 400, 200], failure_body=body)
    caplog.set_level(logging.INFO, logger="loginsvc")

    with pytest.raises(KickstartError) as raised:
        await run_kickstart(kickstart_with(3), recorder.create_api_key, recorder.send)

    expected = (
        "Kickstart request 1 (POST /api/thing/1) failed: status 400 with "
        "[Busy], [duplicate]user.email."
    )
    assert expected == str(raised.value)
    assert 2 == len(recorder.sent)
    assert "first-key" not in caplog.text
    assert (
        "kickstart_request_sent index=1 method=POST url=/api/thing/1 status=400"
        in caplog.text
    )


async def test_run_kickstart_names_a_request_that_could_not_be_sent():
    """
    A transport error becomes a ``KickstartError`` naming the request.
    """

    async def broken(request: KickstartRequest, key: str) -> tuple[int, bytes]:
        raise ConnectionResetError

    recorder = Recorder([])

    with pytest.raises(KickstartError) as raised:
        await run_kickstart(kickstart_with(1), recorder.create_api_key, broken)

    assert "request 0 (POST /api/thing/0) could not be sent" in str(raised.value)


async def test_run_kickstart_without_api_keys_does_nothing(caplog):
    """
    FusionAuth skips a kickstart file that has no API key.
    """
    recorder = Recorder([200])
    kickstart = Kickstart(api_keys=[], requests=[KickstartRequest("POST", "/api/x")])
    caplog.set_level(logging.INFO, logger="loginsvc")

    await run_kickstart(kickstart, recorder.create_api_key, recorder.send)

    assert ([], []) == (recorder.keys, recorder.sent)
    assert "kickstart_skipped reason=no_api_keys" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"FUSIONAUTH_APP_KICKSTART_FILE": "/fa.json"}, "/fa.json"),
        (
            {
                "FUSIONAUTH_APP_KICKSTART_FILE": "/fa.json",
                "LOGINSVC_KICKSTART_FILE": "/ls.json",
            },
            "/ls.json",
        ),
    ],
)
def test_settings_take_the_kickstart_file_from_either_variable(environ, expected):
    """
    FusionAuth's variable works; ``LOGINSVC_KICKSTART_FILE`` wins over it.
    """
    assert expected == Settings.from_env(environ).kickstart_file


def two_applications_then(last: dict[str, object]) -> Kickstart:
    """
    A kickstart of two good requests and a third whose body is ``last``.
    """
    good = [
        KickstartRequest("POST", "/api/application", {"application": {"name": n}})
        for n in ("one", "two")
    ]
    return Kickstart(
        api_keys=[{"key": "kickstart-progress-key-0123456789"}],
        requests=[*good, KickstartRequest("POST", "/api/application", last)],
    )


async def kickstart_on(url: str, kickstart: Kickstart) -> None:
    """
    One start's kickstart step against the store at ``url``.
    """
    settings = Settings(redis_url=url, partitions=4, hash_profile=CHEAPEST)
    await _kickstart_once(settings, kickstart)


async def flushed(url: str) -> str:
    client = Redis.from_url(url)
    await client.flushall()
    await client.aclose()
    return url


@pytest.mark.redis
async def test_a_restart_after_a_failed_kickstart_warns_once_and_does_not_rerun(
    redis_server, caplog
):
    """
    The warning names the request it stopped at and how to start afresh.
    """
    url = await flushed(redis_server)
    with pytest.raises(KickstartError):
        await kickstart_on(url, two_applications_then({}))
    caplog.set_level(logging.INFO, logger="loginsvc")

    await kickstart_on(url, two_applications_then({"application": {"name": "3"}}))

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 == len(warnings)
    message = warnings[0].getMessage()
    assert "kickstart_incomplete" in message and "stopped_at_request=2" in message
    assert "requests=3" in message and "--data-dir" in message
    assert "kickstart_request_sent" not in caplog.text


@pytest.mark.redis
async def test_a_restart_after_a_completed_kickstart_skips_it_quietly(
    redis_server, caplog
):
    """
    A finished kickstart is recorded, so a later start only logs at INFO.
    """
    url = await flushed(redis_server)
    kickstart = two_applications_then({"application": {"name": "three"}})
    await kickstart_on(url, kickstart)
    caplog.set_level(logging.INFO, logger="loginsvc")

    await kickstart_on(url, kickstart)

    assert [] == [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "kickstart_skipped reason=completed" in caplog.text
