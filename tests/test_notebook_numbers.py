"Every results table a notebook shows is generated from a committed file: no markdown cell holds a typed-in table of measured numbers."
import json, re
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1] / 'nbs'
# a table cell that is a number: 0.42, 94 ± 0, 18,564, −6.4, 12 %, 94.9 (0.13)
NUMBER = re.compile(r'^[-+−]?\d[\d,]*(?:\.\d+)?\s*(?:±\s*\d+(?:\.\d+)?)?\s*%?(?:\s*\([^)]*\))?$')
MEASURED = re.compile(r'\d\.\d|±')   # a measured-looking number: decimals or a spread (layer numbers and counts are not)

def table_cells(md:str) -> list:
    "The stripped cells of every markdown table row in `md`."
    return [x.strip() for line in md.splitlines() if line.strip().startswith('|') for x in line.strip().strip('|').split('|')]

def literal_results(md:str) -> list:
    "The measured-looking numbers typed into markdown tables of `md` (a results table when there are two or more)."
    found = [x for x in table_cells(md) if NUMBER.match(x) and MEASURED.search(x)]
    return found if len(found) >= 2 else []

def test_detector_flags_typed_tables_and_passes_others():
    typed = "| method | ψ_NQC | kNN |\n|---|---:|---:|\n| moco | 0.66 | 0.50 |\n"
    assert literal_results(typed) == ['0.66', '0.50']
    assert literal_results("| ρ | Dice |\n|---|---|\n| 0 | 94 ± 0 |\n| 0.5 | 93 ± 1 |\n") == ['94 ± 0', '0.5', '93 ± 1']
    assert literal_results("| module | layer |\n|---|---|\n| core | 0 |\n| data | 1 |\n") == []          # counts, not results
    assert literal_results("| recipe | swept |\n|---|---|\n| a | ρ ∈ {0, 0.1, …, 0.9} |\n") == []   # prose in a table
    assert literal_results("The run gave 0.66 and 0.50.") == []                                         # no table

NOTEBOOKS = sorted(NBS.glob('**/*.ipynb'))

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.name)
def test_no_typed_results_table(nb):
    cells = json.loads(nb.read_text()).get('cells', [])
    bad = {i: literal_results(''.join(c.get('source', ''))) for i, c in enumerate(cells) if c.get('cell_type') == 'markdown'}
    bad = {i: v for i, v in bad.items() if v}
    assert not bad, (f"{nb.name}: markdown cell(s) {sorted(bad)} hold typed-in results tables (e.g. {next(iter(bad.values()))[:4]}); "
                     "read the numbers from a committed file under nbs/results/ in a code cell instead")
