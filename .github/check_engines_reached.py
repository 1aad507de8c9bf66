"""Fail unless every engine of ERPOPS_TEST_ENGINES_EXPECTED ran its cases, none skipped and none failed.

Reads the JUnit XML of pytest (``--junitxml``); a case belongs to an engine by its parameter id
(``test_connect_and_query[mssql]``). A run where the services were down or the variables missing
shows up as skipped, errored or absent cases, and fails here.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    """{engine: {"passed": n, "skipped": n, "failed": n}} from a JUnit XML file."""
    counts = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        match = re.search(r"\[([^\]-]+)(?:-[^\]]*)?\]$", case.get("name", ""))
        if not match:
            continue
        tally = counts.setdefault(match.group(1), {"passed": 0, "skipped": 0, "failed": 0})
        if case.find("skipped") is not None:
            tally["skipped"] += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            tally["failed"] += 1
        else:
            tally["passed"] += 1
    return counts


def main(argv):
    expected = os.environ.get("ERPOPS_TEST_ENGINES_EXPECTED", "").replace(",", " ").split()
    if not expected:
        print("ERPOPS_TEST_ENGINES_EXPECTED is empty: nothing would be checked")
        return 1
    counts = outcomes(argv[1])
    problems = []
    for engine in expected:
        tally = counts.get(engine, {"passed": 0, "skipped": 0, "failed": 0})
        print("%s: %d passed, %d skipped, %d failed" % (engine, tally["passed"], tally["skipped"], tally["failed"]))
        if tally["passed"] == 0 or tally["skipped"] or tally["failed"]:
            problems.append(engine)
    if problems:
        print("not reached: %s" % ", ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
