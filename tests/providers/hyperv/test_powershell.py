"""PowerShell literals and JSON output: hostile values stay data, one object or none still makes a list."""

from __future__ import annotations

import pytest

from providers.hyperv import scripts
from providers.hyperv.powershell import parse_json, quote, script
from providers.types import ProviderError
from tests.fixtures.powershell_script import ScriptError, parse_literal, split_script

HOSTILE = [
    "plain",
    "it's",
    "'; Remove-VM -Name * -Force; '",
    "$(Stop-Computer -Force)",
    "`$env:USERNAME`",
    "\u2018smart\u2019 quotes\u201a\u201b'",
    "a'';'b",
    "@(1) | % { $_ }",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_value_reads_back_as_exactly_itself(value):
    literal = quote(value)
    assert literal.startswith("'") and literal.endswith("'")
    assert parse_literal(literal) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_a_script_keeps_its_body_whatever_the_value(value):
    op, params, body = split_script(scripts.get_vm(value))
    _, _, benign = split_script(scripts.get_vm("benign"))
    assert op == "get-vm" and params == {"instance": value} and body == benign


def test_an_unbalanced_literal_is_a_parse_error_in_the_fake():
    """The fake refuses what PowerShell would parse as code after a string (what an unquoted value causes)."""
    with pytest.raises(ScriptError, match="unexpected token"):
        parse_literal("'x'; Remove-VM -Name * '")


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b"])
def test_line_breaks_and_nul_are_refused(value):
    with pytest.raises(ProviderError):
        quote(value)


def test_numbers_and_null_are_written_bare():
    assert quote(5) == "5" and quote(None) == "$null" and quote(True) == "$true"
    text = script("x", "Get-VM", skip=10, name="n")
    assert "$skip = 10\n$name = 'n'\n" in text


def test_convertto_json_shapes():
    assert parse_json('[{"a": 1}, {"a": 2}]', "x") == [{"a": 1}, {"a": 2}]
    assert parse_json('{"a": 1}', "x") == [{"a": 1}], "one object comes unwrapped"
    assert parse_json("", "x") == [] and parse_json("null", "x") == []
    assert parse_json('\ufeff[]\r\n', "x") == []
    with pytest.raises(ProviderError, match="not JSON"):
        parse_json("Get-VM : access denied", "x")
    with pytest.raises(ProviderError, match="unexpected JSON"):
        parse_json("[1, 2]", "x")
