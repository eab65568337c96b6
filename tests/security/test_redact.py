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
