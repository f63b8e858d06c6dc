"""Every name → thing table in segkit is a `segkit.registry.Registry` with one contract (house issue)."""
import importlib, pkgutil, subprocess, sys
import pytest
import segkit
from segkit.registry import Registry, UnknownName, registries
from conftest import ROOT

def _import_all():
    for m in pkgutil.walk_packages(segkit.__path__, 'segkit.'):
        if m.name.startswith('segkit.widgets'): continue
        importlib.import_module(m.name)
    return registries()

REGS = _import_all()
EXPECTED = {'source', 'loss', 'CAM method', 'pretext task', 'encoder', 'architecture', 'recipe', 'demo step',
            'instance post-processor', 'perturbation preset', 'pseudo-label strategy', 'exporter', 'labeler', 'predictor kind'}

def test_the_known_families_are_registries():
    missing = EXPECTED - set(REGS)
    assert not missing, f"not (yet) a Registry: {sorted(missing)}; registries: {sorted(REGS)}"
    for r in REGS.values(): assert isinstance(r, Registry)

@pytest.mark.parametrize('kind', sorted(REGS))
def test_unknown_name_lists_the_known_ones(kind):
    reg = REGS[kind]
    with pytest.raises(UnknownName) as e: reg['no-such-thing']
    msg = str(e.value)
    assert f"unknown {kind} 'no-such-thing'" in msg
    for n in reg.names()[:3]: assert n in msg
    assert isinstance(e.value, KeyError)

@pytest.mark.parametrize('kind', sorted(REGS))
def test_every_entry_has_help_and_a_table_row(kind):
    reg = REGS[kind]
    assert reg.names(), f"registry {kind!r} is empty"
    for n in reg.names(): assert reg.help(n).strip(), f"{kind} {n!r} has no help text"
    assert list(reg.table().index) == reg.names()

def _entries():
    return [(k, n) for k in sorted(REGS) for n in REGS[k].names()]

@pytest.mark.parametrize('kind,name', _entries())
def test_every_entry_builds_on_a_tiny_input(kind, name):
    reg = REGS[kind]
    assert reg.smoke is not None, f"registry {kind!r} has no smoke function"
    reg.check(name)

def _fresh(code):
    r = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

def test_lookups_need_no_prior_imports():
    "A fresh interpreter finds entries that other modules define (lazy providers), in any order."
    _fresh("from segkit.data.sources import get_source, list_sources\n"
           "assert 'mounds' in list_sources().index and 'sites' in list_sources().index\n"
           "ds = get_source('mounds', n=2, size=32)\nassert ds.n == 2")
    _fresh("from segkit.models.classifiers import site_classifier\nm = site_classifier('vgg11_slim')\nassert m is not None")
    _fresh("from segkit.models.encoders import list_encoders\nassert 'efficientnet_lite0' in list_encoders()")

def test_no_import_patches_fastai():
    "Importing every segkit module leaves fastai's own DistributedDL._broadcast in place."
    out = _fresh("import importlib, pkgutil, segkit\n"
                 "for m in pkgutil.walk_packages(segkit.__path__, 'segkit.'):\n"
                 "    importlib.import_module(m.name)\n"
                 "from fastai.distributed import DistributedDL\n"
                 "print(DistributedDL._broadcast.__module__)")
    assert out.strip().splitlines()[-1] == 'fastai.distributed'

def test_library_never_seeds_the_global_rng():
    "Only segkit.core may call set_seed/torch.manual_seed (its `set_seed` for users, `torch_seeded` forks first)."
    bad = []
    for py in (ROOT / 'segkit').rglob('*.py'):
        if py.name in ('core.py', '_modidx.py'): continue
        for i, line in enumerate(py.read_text().splitlines(), 1):
            if 'set_seed(' in line or 'torch.manual_seed(' in line: bad.append(f"{py.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, '\n'.join(bad)
