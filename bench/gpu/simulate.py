"""Check the wheel set by reasoning on this machine: import what the GPU check imports while hiding every installed
distribution that is neither in the assumed GPU image nor in the carried wheels (`wheelset.py`).

`python bench/gpu/simulate.py` prints the hidden modules that were asked for and exits 1 if an import failed.
Optional imports (inside try/except) that are hidden are listed but do not fail the check.
"""
from __future__ import annotations
import importlib, importlib.metadata as md, sys, traceback
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import wheelset as ws

# what the CUDA tests and the benchmark import (plus pytest itself)
MODULES = ['fastai.vision.all', 'fastai.callback.all', 'captum.attr', 'segkit.learner', 'segkit.selfsl.pretext',
           'segkit.explain.cams', 'segkit.explain.masks', 'segkit.metrics.semantic', 'segkit.metrics.instance',
           'segkit.metrics.representation', 'segkit.models.dynamic', 'segkit.models.encoders', 'segkit.models.unet',
           'segkit.losses', 'segkit.experiments', 'segkit.data.block', 'pytest']
TORCH_DEPS = ('nvidia', 'cuda', 'triton', 'setuptools')   # torch's own wheels and runtime deps on the image

def allowed() -> set:
    names = set(ws.IMAGE) | set(ws.IMAGE_DEPS) | set(ws.ALWAYS) | set(ws.IF_MISSING) | {'segkit'}
    return {ws.norm(n) for n in names}

def hidden_modules() -> dict:
    "`{top-level module: distribution}` for installed modules the GPU machine would not have."
    ok, out = allowed(), {}
    for mod, dists in md.packages_distributions().items():
        nd = [ws.norm(d) for d in dists]
        if any(d in ok or d.startswith(TORCH_DEPS) for d in nd): continue
        out[mod] = dists[0]
    return out

class Hider:
    "A meta-path finder that refuses the hidden modules and records which were asked for."
    def __init__(self, hidden): self.hidden, self.asked = hidden, {}
    def find_spec(self, name, path=None, target=None):
        top = name.split('.')[0]
        if top in self.hidden:
            self.asked.setdefault(top, self.hidden[top])
            raise ModuleNotFoundError(f"No module named {top!r} (hidden: not on the GPU image, not carried)", name=top)
        return None

def main() -> int:
    h = Hider(hidden_modules())
    sys.meta_path.insert(0, h)
    failed = []
    for m in MODULES:
        try: importlib.import_module(m)
        except Exception as e:
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in reversed(tb) if 'importlib' not in f.filename and not f.filename.endswith('simulate.py')), '?')
            failed.append(m); print(f"FAIL import {m}: {e} (at {where})")
    if h.asked: print("hidden modules asked for:", ', '.join(f"{k} ({v})" for k, v in sorted(h.asked.items())))
    print(f"simulated GPU image: {len(MODULES) - len(failed)}/{len(MODULES)} imports succeed")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
