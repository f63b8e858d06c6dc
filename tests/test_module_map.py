"""README, the docs home page (`nbs/index.ipynb`) and ARCHITECTURE.md tell the same story as the code: one module map."""
import json, re
from conftest import ROOT

def _modules():
    from segkit._modidx import d
    return {m for m in d['syms'] if not m.endswith('__init__')}

def _section(text, start):
    "The text from the heading `start` to the next heading of the same or higher level."
    i = text.index(start)
    level = len(start) - len(start.lstrip('#'))
    m = re.search(rf"\n#{{1,{level}}} ", text[i + len(start):])
    return text[i: i + len(start) + (m.start() if m else len(text))]

def _named(text): return set(re.findall(r"`(segkit(?:\.\w+)+)`", text))

def _index_md():
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    return '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')

def test_readme_map_matches_the_code():
    named = _named(_section((ROOT / 'README.md').read_text(), '## Module map'))
    assert named == _modules(), f"README map: missing {sorted(_modules() - named)}, stale {sorted(named - _modules())}"

def test_index_map_matches_the_code():
    named = _named(_section(_index_md(), '## Module map'))
    assert named == _modules(), f"index.ipynb map: missing {sorted(_modules() - named)}, stale {sorted(named - _modules())}"

def test_architecture_rooms_match_the_code():
    text = (ROOT / 'ARCHITECTURE.md').read_text()
    named = _named(_section(text, '## Rooms'))
    assert _modules() <= named, f"ARCHITECTURE.md rooms miss {sorted(_modules() - named)}"
    planned = _named(_section(text, '## Planned rooms')) if '## Planned rooms' in text else set()
    stale = named - _modules() - planned
    assert not stale, f"ARCHITECTURE.md names modules that neither exist nor are listed as planned: {sorted(stale)}"

def test_index_separates_today_from_planned():
    md = _index_md()
    assert '## In segkit today' in md and '## Planned' in md
    today = _section(md, '## In segkit today')
    for planned in ('ONNX-only',):
        assert planned.lower() not in today.lower(), f"'{planned}' is listed as existing today"
