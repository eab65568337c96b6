"""modelport.redact as a pure function: every form and cut-short copy of a remembered value goes."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from modelport.errors import ProviderError, SpecError
from modelport.redact import MASK, redact, remember

from .seeds import Scanner, Secret, random_value


def _fresh() -> tuple[str, Scanner]:
    value = random_value()
    remember(value)
    return value, Scanner([Secret("seed", value)])


def test_every_form_and_cut_short_copies_are_masked():
    value, scanner = _fresh()
    texts = [f"a {value} b", json.dumps({"k": value}), json.dumps(json.dumps({"k": value})), quote(value, safe=""),
             repr(value), f"quoted '{value[:20]}...' (cut)", f"...{value[-12:]} tail"]
    for text in texts:
        clean = redact(text)
        assert MASK in clean and not scanner.scan("redacted", clean, "unit"), clean


def test_unrelated_text_and_short_values_stay():
    remember("abc", "", None)
    assert redact("abc and the rest stay as they are") == "abc and the rest stay as they are"


def test_errors_and_log_records_are_redacted(caplog):
    value, scanner = _fresh()
    err = ProviderError("azure", "create container group", f'InvalidRequestContent: {{"secureValue": {json.dumps(value)}}}')
    spec = SpecError("modelport.toml", "secrets.X", f"got {value!r}")
    assert not scanner.scan("error", f"{err} {err.to_dict()} {spec.to_dict()} {spec!r}", "unit")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("botocore.endpoint").debug("Making request with params: %s", {"SecretString": value})
    assert caplog.records and not scanner.scan("log", caplog.text, "unit")


def test_the_ecr_authorization_token_is_redacted_as_ecr_sends_it(aws_emulation, caplog):
    """The base64 token of ``get_authorization_token`` (not only the password inside it) is
    registered before anything can show it: botocore's DEBUG log quotes the reply body."""
    from modelport_providers.aws.ecr_auth import EcrAuth

    ecr = aws_emulation.client("ecr")
    with caplog.at_level(logging.DEBUG, logger="botocore"):
        credentials, _expires = EcrAuth(ecr).fetch(aws_emulation.registry)
    raw = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert redact(f"token {raw} password {credentials.password}") == f"token {MASK} password {MASK}"
    assert "authorizationToken" in caplog.text, "botocore logged the reply (what could leak it)"
    assert not Scanner([Secret("ecr authorization token", raw)]).scan("botocore DEBUG log", caplog.text, "unit")
    # the password inside is moto's "<account id>-auth-token": its 8-character pieces match the
    # account id in every ARN, so only the whole value is looked for
    assert credentials.password not in caplog.text
