"""The report as JUnit XML (one <testsuite> per group), for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tokenport.qualify.runner import FAIL, IGNORE, Report, Result


def _count(results: list[Result], status: str) -> str:
    return str(sum(1 for r in results if r.status == status))


def junit_xml(report: Report, name: str = "tokenport qualify") -> bytes:
    """The JUnit XML document of ``report``: failures as <failure>, ignored tests as <skipped>."""
    root = ET.Element("testsuites", {
        "name": name,
        "tests": str(len(report.results)),
        "failures": str(report.failures),
        "errors": "0",
        "skipped": str(report.ignored),
        "time": f"{sum(r.seconds for r in report.results):.3f}",
    })
    groups: dict[str, list[Result]] = {}
    for result in report.results:
        groups.setdefault(result.group, []).append(result)
    for group, results in groups.items():
        suite = ET.SubElement(root, "testsuite", {
            "name": group,
            "tests": str(len(results)),
            "failures": _count(results, FAIL),
            "errors": "0",
            "skipped": _count(results, IGNORE),
            "time": f"{sum(r.seconds for r in results):.3f}",
        })
        for result in results:
            case = ET.SubElement(suite, "testcase", {
                "classname": group,
                "name": result.name,
                "time": f"{result.seconds:.3f}",
            })
            if result.status == FAIL:
                failure = ET.SubElement(case, "failure", {"message": result.message, "type": "FAIL"})
                failure.text = f"{result.file}:{result.line}::FAIL: {result.message}"
            elif result.status == IGNORE:
                ET.SubElement(case, "skipped", {"message": result.message})
            if result.notes:
                ET.SubElement(case, "system-out").text = "\n".join(result.notes)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def write_junit(report: Report, path: str | Path) -> None:
    Path(path).write_bytes(junit_xml(report))
