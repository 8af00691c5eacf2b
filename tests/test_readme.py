"""The README's promises: its two commands come first, and its example runs."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    """The first code block holds exactly the serve and test commands of run.py."""
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["python3 run.py serve", "python3 run.py test"]
    assert README.index("```bash") < README.index("## ")


def test_ci_runs_the_readme_test_command():
    """.ci/run ends by calling exactly the README's test command."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert lines[-1] == "python3 run.py test"


def test_readme_python_example_runs_and_learns():
    """The README's Python example runs as printed and reaches a low loss on spiral data."""
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    loss, acc = (float(v) for v in re.findall(r"[-\d.]+", out.getvalue())[:2])
    assert loss < 0.5 and acc > 0.8, out.getvalue()
