"""Importing segkit is light: no jupyter/ipywidgets, no CUDA initialisation, every module has a public API."""
import json, subprocess, sys
import pytest
from conftest import ROOT

def _modules():
    "Every module nbdev exported (from segkit/_modidx.py)."
    from segkit._modidx import d
    return sorted(d['syms'].keys())

def test_modidx_lists_modules():
    mods = _modules()
    for m in ('segkit.core', 'segkit.learner', 'segkit.experiments', 'segkit.cli'): assert m in mods

def test_import_is_light_and_cuda_free():
    mods = [m for m in _modules() if not m.startswith('segkit.widgets')]
    code = f"""
import sys, importlib, json
for m in {mods!r}: importlib.import_module(m)
import torch
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'jupyter_client', 'jupyterlab', 'ipykernel', 'notebook', 'nbdev', 'execnb'))
print(json.dumps(dict(bad=bad, cuda_init=torch.cuda.is_initialized())))
"""
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out['bad'] == [], f"importing segkit pulled in {out['bad']}"
    assert out['cuda_init'] is False

@pytest.mark.parametrize("mod", _modules())
def test_module_has_public_api(mod):
    import importlib
    m = importlib.import_module(mod)
    assert getattr(m, '__all__', None), f"{mod} exports nothing"
    for name in m.__all__: assert hasattr(m, name), f"{mod}.__all__ names missing {name}"
