"""Shared pytest setup: the `cuda` and `slow` markers, the `--runslow`/`--skipslow` options, and the repository root.

`slow` tests (today: the JupyterLab browser tests, which `make test` runs and which skip themselves without Chromium) run
by default, so `make test` runs what it ran before; `--skipslow` (or `-m "not slow"`) leaves them out for a quick loop,
and `--runslow` asks for them explicitly (the default; kept so fastai-style commands work). To make them opt-in instead,
set `SLOW_BY_DEFAULT = False` and add `--runslow` to the pytest line of `make test`.
`cuda` tests are skipped with a reason on machines without a CUDA device.
"""
import warnings
from pathlib import Path
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
