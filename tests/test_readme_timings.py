"""Every quick-preset wall time in the README's table is read from a timing record committed beside that recipe's results."""
import glob, json, re
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _minutes(obj):
    "Every wall time (minutes) a timing record holds: `minutes`, `seconds` / `wall_s`, or a `started`/`finished` pair."
    out = []
    if isinstance(obj, dict):
        if isinstance(obj.get('minutes'), (int, float)): out.append(float(obj['minutes']))
        for k in ('seconds', 'wall_s'):
            if isinstance(obj.get(k), (int, float)): out.append(obj[k] / 60)
        a, b = obj.get('started') or obj.get('started_utc'), obj.get('finished') or obj.get('finished_utc')
        if isinstance(a, str) and isinstance(b, str):
            try: out.append((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60)
            except ValueError: pass
        for v in obj.values(): out += _minutes(v)
    elif isinstance(obj, list):
        for v in obj: out += _minutes(v)
    return out

def test_readme_quick_timings_come_from_committed_records():
    text = (ROOT / 'README.md').read_text()
    rows = re.findall(r"^\| `([\w-]+)` \| ([\d.]+) \| `(nbs/results/[^`]+)` \|$", text, re.M)
    assert len(rows) >= 10, rows
    for recipe, minutes, where in rows:
        pat = str(ROOT / where) + ('/*.json' if where.endswith('/') else '.json')     # a folder, or a file prefix ending in '*'
        files = [Path(f) for f in glob.glob(pat)]
        found = [m for f in files for m in _minutes(json.loads(f.read_text()))]
        assert any(abs(round(m, 1) - float(minutes)) < 0.051 for m in found), f"{recipe}: README says {minutes} min, records in {where} hold {sorted(round(m, 2) for m in found)}"
