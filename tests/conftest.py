"""Shared pytest setup: the `cuda` and `slow` markers, the `--runslow`/`--skipslow` options, and the repository root.

`slow` tests (today: the JupyterLab browser tests, which `make test` runs and which skip themselves without Chromium) run
by default, so `make test` runs what it ran before; `--skipslow` (or `-m "not slow"`) leaves them out for a quick loop,
and `--runslow` asks for them explicitly (the default; kept so fastai-style commands work). To make them opt-in instead,
set `SLOW_BY_DEFAULT = False` and add `--runslow` to the pytest line of `make test`.
`cuda` tests are skipped with a reason on machines without a CUDA device.
"""
import warnings
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SLOW_BY_DEFAULT = True

def pytest_addoption(parser):
    g = parser.getgroup('segkit')
    g.addoption('--runslow', action='store_true', default=False, help='run tests marked slow (the default; see conftest.py)')
    g.addoption('--skipslow', action='store_true', default=False, help='skip tests marked slow')

def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds (run by default; --skipslow leaves them out)")
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    if config.getoption('runslow') and config.getoption('skipslow'): raise pytest.UsageError("--runslow and --skipslow exclude each other")

def run_slow(config) -> bool:
    if config.getoption('skipslow'): return False
    return config.getoption('runslow') or SLOW_BY_DEFAULT

def pytest_collection_modifyitems(config, items):
    if not run_slow(config):
        skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
        for it in items:
            if "slow" in it.keywords: it.add_marker(skip_slow)
    import torch
    if torch.cuda.is_available(): return
    skip = pytest.mark.skip(reason="no CUDA device on this machine")
    for it in items:
        if "cuda" in it.keywords: it.add_marker(skip)

@pytest.fixture
def root(): return ROOT

def toy_objects(n:int=4, size:int=32, objects:int=4, side:int=6, margin:int=2, seed:int=0) -> tuple:
    "Synthetic instance data for unit tests: `n` noisy (size, size) images with `objects` square objects of `side` px (ids 1..objects,"
    " later ones overwrite earlier ones), top-left corners drawn in [margin, size - 8). Returns `(images, label maps)`."
    r = np.random.default_rng(seed)
    imgs, labs = [], []
    for _ in range(n):
        lbl = np.zeros((size, size), np.int32)
        for k in range(1, objects + 1):
            y, x = r.integers(margin, size - 8, 2); lbl[y:y + side, x:x + side] = k
        imgs.append((lbl > 0).astype(np.float32) + r.normal(0, 0.1, (size, size)).astype(np.float32)); labs.append(lbl)
    return imgs, labs
