""".github/check_engines_reached.py: the real-engine job fails unless every expected engine ran and none skipped."""

import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location("check_engines_reached", os.path.join(REPO, ".github", "check_engines_reached.py"))
checker = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(checker)


def _junit(tmp_path, cases):
    body = "".join('<testcase classname="t" name="%s">%s</testcase>' % (name, inner) for name, inner in cases)
    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0"?><testsuites><testsuite name="pytest">%s</testsuite></testsuites>' % body,
                    encoding="utf-8")
    return str(path)


RAN = [("test_connect[mssql]", ""), ("test_quote[mssql]", ""), ("test_connect[oracle]", ""), ("test_connect[lab]", "")]


@pytest.mark.parametrize("cases, expected, rc", [
    (RAN, "mssql oracle", 0),
    (RAN + [("test_quote[oracle]", '<skipped message="ERPOPS_TEST_ORACLE_HOST not set"/>')], "mssql oracle", 1),
    ([(case[0], '<skipped message="not set"/>') for case in RAN], "mssql oracle", 1),
    (RAN + [("test_quote[mssql-x]", '<error message="login failed"/>')], "mssql", 1),
    ([("test_connect[lab]", "")], "mssql", 1),  # the engine's cases are absent (deselected or never collected)
    (RAN, "", 1),  # nothing expected would check nothing: refused
])
def test_an_expected_engine_must_run_every_case(tmp_path, monkeypatch, cases, expected, rc):
    monkeypatch.setenv("ERPOPS_TEST_ENGINES_EXPECTED", expected)
    assert checker.main(["check", _junit(tmp_path, cases)]) == rc
