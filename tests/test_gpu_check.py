"""benchmarks/gpu_check.py at its --smoke size: the device script's code paths, on the CPU.

The full run needs a GPU machine the suite never has; this keeps the script
from rotting between such runs (an API it calls that changed, an item that
raises), while its targets are only reported at this size.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
N_ITEMS = 7


def test_gpu_check_smoke_runs_every_item(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report_path, table_path = tmp_path / "gpu_check.json", tmp_path / "gpu_check.md"
    assert report_path.is_file() and table_path.is_file()

    report = json.loads(report_path.read_text())
    items = report["items"]
    assert [item["number"] for item in items] == list(range(1, N_ITEMS + 1))
    for item in items:
        assert item["status"] in {"pass", "fail", "skipped", "reported"}, (item["title"], item["error"])
    assert report["environment"]["smoke"] is True
    assert report["environment"]["torch"]

    table = table_path.read_text()
    for item in items:
        # Each item's first row starts with "| <number>. <title>".
        assert f"| {item['number']}. {item['title']}" in table
    assert "| item | measurement | value | target | pass/fail |" in table
