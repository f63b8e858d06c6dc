"""Option help is read from the config class's source; `nbdev_export` in a notebook running beside another rewrites module
files in place (open 'w'), so a reader can catch a file empty or cut short. The help must survive that (CI failed on it once)."""
import importlib, linecache, sys, threading, time

SRC = '''from dataclasses import dataclass
from segkit.experiments import RecipeCfg

@dataclass(frozen=True)
class RaceCfg(RecipeCfg):
    "A config for the test."
    epochs: int = 10 # training epochs of the main U-Net
    lr: float = 3e-3 # one-cycle maximum learning rate
'''

def test_option_help_survives_a_module_rewritten_in_place(tmp_path, monkeypatch):
    f = tmp_path / 'race_cfg_mod.py'; f.write_text(SRC)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module('race_cfg_mod')
    try:
        f.write_text(SRC[:SRC.index('    lr:')]); linecache.checkcache()        # cut short inside the class, as while being written
        t = threading.Thread(target=lambda: (time.sleep(0.3), f.write_text(SRC))); t.start()
        h = mod.RaceCfg.option_help(); t.join()
        assert h['epochs'] == 'training epochs of the main U-Net' and h['lr'] == 'one-cycle maximum learning rate'
    finally: sys.modules.pop('race_cfg_mod', None)
