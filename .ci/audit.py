"""`make audit`: known vulnerabilities in the installed dependencies (pip-audit).

Audits the project's virtualenv (what `make test` and `make demo` run on), the project
itself skipped (it is not on PyPI). Exit 1 when a dependency has a known vulnerability,
naming each with the versions that fix it. When the vulnerability service (PyPI's JSON
API) cannot be reached, or answers for none of the installed versions (a mirror in
between that serves only project pages), print a warning saying which dependencies
were NOT audited and exit 0: CI on a machine without the internet still runs the tests.

Vulnerabilities judged not to apply go in IGNORED with the reason, and are printed on
every run so that the judgement is seen again.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: vulnerability id → why it does not apply to this project (none today)
IGNORED: dict[str, str] = {}


def main() -> int:
    if importlib.util.find_spec("pip_audit") is None:
        print(
            "pip-audit is not installed: run `make setup` (it is in the dev extra)", file=sys.stderr
        )
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        argv = [
            sys.executable,
            "-m",
            "pip_audit",
            "--skip-editable",
            "--progress-spinner",
            "off",
            "--timeout",
            "30",
            "--format",
            "json",
            "--output",
            str(report),
        ]
        for vuln_id in IGNORED:
            argv += ["--ignore-vuln", vuln_id]
        # fixed argv, this interpreter: no untrusted input reaches the command line
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if not report.is_file():  # pip-audit stopped before it could judge anything
            lines = (done.stderr or done.stdout).strip().splitlines()
            why = lines[-1] if lines else f"exit {done.returncode}"
            print(
                "warning: pip-audit could not reach the vulnerability service; "
                f"dependencies were NOT audited ({why[:300]})",
                file=sys.stderr,
            )
            return 0
        data = json.loads(report.read_text())
    for vuln_id, why in IGNORED.items():
        print(f"pip-audit: ignoring {vuln_id}: {why}")
    deps = data.get("dependencies", [])
    found = [(dep["name"], dep["version"], vuln) for dep in deps for vuln in dep.get("vulns", [])]
    skipped = [dep for dep in deps if "skip_reason" in dep]
    checked = len(deps) - len(skipped)
    if skipped:
        # the service answered but not for these versions (a mirror or proxy in between)
        names = ", ".join(dep["name"] for dep in skipped[:8])
        more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        print(
            f"warning: pip-audit could not audit {len(skipped)} of {len(deps)} packages "
            f"({names}{more}): {skipped[0]['skip_reason']}",
            file=sys.stderr,
        )
    if not found:
        if not checked:
            print("warning: no dependency was audited", file=sys.stderr)
        else:
            print(f"pip-audit: no known vulnerabilities in {checked} audited packages")
        return 0
    for name, version, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
        print(f"{name} {version}: {vuln['id']} (fixed in {fixes})", file=sys.stderr)
    print(
        f"pip-audit: {len(found)} known vulnerability(ies); raise the pins in pyproject.toml "
        "or, if one does not apply, add it to IGNORED in .ci/audit.py with the reason",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
