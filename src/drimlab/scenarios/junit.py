"""A run as JUnit XML: one test case per step, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from drimlab.scenarios.runs import RunState, StepStatus
from drimlab.scenarios.schema import Scenario


def render_run_junit(scenario: Scenario, run: RunState) -> str:
    """`failed` steps are failures, `skipped` and `waiting` ones are skipped test cases."""
    failures = sum(s.status is StepStatus.FAILED for s in run.steps)
    skipped = sum(s.status in (StepStatus.SKIPPED, StepStatus.WAITING) for s in run.steps)
    suite = ET.Element(
        "testsuite",
        {
            "name": scenario.id,
            "tests": str(len(run.steps)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "timestamp": run.created_at.isoformat(),
        },
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", {"name": "run", "value": run.id})
    for state in run.steps:
        step = scenario.steps[state.position]
        elapsed = 0.0
        if state.started_at is not None and state.finished_at is not None:
            elapsed = max(0.0, (state.finished_at - state.started_at).total_seconds())
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": scenario.id,
                "name": f"{state.position + 1:02d} {step.kind.value} {state.step_id}",
                "time": f"{elapsed:.3f}",
            },
        )
        if state.status is StepStatus.FAILED:
            ET.SubElement(
                case, "failure", {"message": state.detail or "failed"}
            ).text = state.detail
        elif state.status is not StepStatus.DONE:
            reason = state.detail or (
                "not run" if state.status is StepStatus.WAITING else "skipped"
            )
            ET.SubElement(case, "skipped", {"message": reason})
        lines = [f"report {r}" for r in state.report_ids] + [
            f"evidence {e.name}: {e.original} sha256 {e.sha256}" for e in state.evidence
        ]
        if lines:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )
