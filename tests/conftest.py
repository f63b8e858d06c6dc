"""Shared pytest setup: the `cuda` and `slow` markers, and the repository root."""
import warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)

def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available(): return
    skip = pytest.mark.skip(reason="no CUDA device on this machine")
    for it in items:
        if "cuda" in it.keywords: it.add_marker(skip)

@pytest.fixture
def root(): return ROOT
