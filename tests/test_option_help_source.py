"""Option help is each field's trailing `# comment`, read from where the config class was defined. A class defined in a notebook
cell (every recipe notebook's export cells define its config again) has no source `inspect` can find: its help was empty, and
`segkit list demo` in a process that had run 14d's cells lost every help line (CI's 16_cli failed on it twice)."""
from execnb.shell import CaptureShell

CELL = '''from dataclasses import dataclass
from segkit.experiments import RecipeCfg

@dataclass(frozen=True)
class CellCfg(RecipeCfg):
    "A config defined in a notebook cell."
    epochs: int = 10 # training epochs of the main U-Net
    lr: float = 3e-3 # one-cycle maximum learning rate

@dataclass(frozen=True)
class CellCfg2(CellCfg):
    crop: int = 64 # crop side
'''

def test_option_help_of_a_class_defined_in_a_notebook_cell():
    sh = CaptureShell()
    sh.run_cell(CELL)
    assert sh.exc is None, sh.exc
    h = sh.user_ns['CellCfg2'].option_help()
    assert h['epochs'] == 'training epochs of the main U-Net' and h['lr'] == 'one-cycle maximum learning rate', h
    assert h['crop'] == 'crop side' and h['seed'] == 'first seed', h    # own fields, the cell's base class, and segkit's RecipeCfg

def test_option_help_of_a_module_class():
    from segkit.recipes.demo import DemoCfg
    assert DemoCfg.option_help()['epochs'] == 'training epochs of the main U-Net'
