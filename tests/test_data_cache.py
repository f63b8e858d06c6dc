"""The data cache is verified: sizes on every load, sha256 against the wheel's RECORD (changed files, or all with `--verify`);
a damaged or truncated file gives one line naming the file and the fix. Fake wheels in a temporary `SEGKIT_DATA`; no downloads."""
import base64, hashlib, json, zipfile
import numpy as np
import pytest
from segkit.data import sources as S
from segkit.data.sources import fetch_package, verify_package, DamagedCache, FetchError, cached_packages
from segkit.cli import main

def _b64(data:bytes) -> str: return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()

def _wheel(folder, name, version, files:dict, record=True):
    "A tiny wheel with `files` (path → bytes) and, unless `record=False`, a RECORD of their hashes."
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f'{name}-{version}-py3-none-any.whl', 'w') as z:
        for f, b in files.items(): z.writestr(f, b)
        if record:
            rec = ''.join(f"{f},sha256={_b64(b)},{len(b)}\n" for f, b in files.items()) + f"{name}-{version}.dist-info/RECORD,,\n"
            z.writestr(f'{name}-{version}.dist-info/RECORD', rec)

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv('SEGKIT_DATA', str(tmp_path))
    tif = tmp_path / 'x.tif'; S._write_tif(tif, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    _wheel(tmp_path / 'wheels', 'toydata', '1.0', {'toydata/a.txt': b'hello', 'toydata/img.tif': tif.read_bytes()})
    return tmp_path

def test_fetch_records_per_file_hashes(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    rec = json.loads((root / '.segkit-complete').read_text())
    assert rec['wheel'] == 'toydata-1.0-py3-none-any.whl' and len(rec['sha256']) == 64
    assert rec['files']['toydata/a.txt'] == [5, hashlib.sha256(b'hello').hexdigest()]
    assert set(rec['verified']) == set(rec['files'])
    assert verify_package(root) == dict(files=2, bytes=5 + (root / 'toydata/img.tif').stat().st_size, hashed=0)   # nothing changed: stat only
    assert verify_package(root, full=True)['hashed'] == 2
    assert cached_packages() == [root]

def test_a_deleted_file_is_not_silently_skipped(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    (root / 'toydata' / 'a.txt').unlink()
    with pytest.raises(DamagedCache, match=r"damaged data cache: .*toydata/a.txt is missing; delete the folder .*toydata-1.0"):
        fetch_package('toydata', '1.0')

def test_a_changed_file_of_the_same_size_is_found_by_its_hash(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    (root / 'toydata' / 'a.txt').write_bytes(b'jello')   # same size; its mtime changes, so the next load hashes it
    with pytest.raises(DamagedCache, match=r"a.txt differs from the wheel's copy \(sha256 mismatch\)"): fetch_package('toydata', '1.0')

def test_truncated_tiff_in_the_cache(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    f = root / 'toydata' / 'img.tif'
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(DamagedCache, match=r"img.tif has 1,000 bytes, the wheel's has [\d,]+ \(truncated or changed\)"): fetch_package('toydata', '1.0')
    # read directly (e.g. through `path=`): the reader names the file and the fix instead of "got shape (0,)"
    with pytest.raises(ValueError, match=r"img.tif: (truncated or damaged|unreadable or truncated) TIFF .*it is in the data cache: delete the folder"):
        S._read_tif(f)

def test_truncated_tiff_outside_the_cache(tmp_path):
    f = tmp_path / 't.tif'; S._write_tif(f, np.ones((64, 64), np.uint16))
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"t.tif: (truncated or damaged|unreadable or truncated) TIFF .*(copy or fetch the file again|\))$"):
        S._read_tif(f)

def test_force_fetches_again_and_repairs(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    (root / 'toydata' / 'a.txt').write_bytes(b'he')
    with pytest.raises(DamagedCache): fetch_package('toydata', '1.0')
    assert fetch_package('toydata', '1.0', force=True, quiet=True) == root
    assert (root / 'toydata' / 'a.txt').read_bytes() == b'hello' and verify_package(root, full=True)['files'] == 2

def test_old_marker_without_hashes_is_checked_against_the_wheels_record(cache):
    root = fetch_package('toydata', '1.0', quiet=True)
    (root / '.segkit-complete').write_text(json.dumps(dict(wheel='toydata-1.0-py3-none-any.whl', sha256='0' * 64)))   # as main wrote it
    assert verify_package(root)['hashed'] == 2          # hashed once, then remembered
    assert verify_package(root)['hashed'] == 0
    (root / 'toydata' / 'a.txt').write_bytes(b'hallo')
    with pytest.raises(DamagedCache, match='sha256 mismatch'): verify_package(root)

def test_a_wheel_that_disagrees_with_its_record_is_refused(cache):
    _wheel(cache / 'wheels', 'baddata', '1.0', {'baddata/a.txt': b'hello'}, record=False)
    with zipfile.ZipFile(cache / 'wheels' / 'baddata-1.0-py3-none-any.whl', 'a') as z:
        z.writestr('baddata-1.0.dist-info/RECORD', f"baddata/a.txt,sha256={_b64(b'other')},5\n")
    with pytest.raises(FetchError, match=r"1 files differ from the wheel's RECORD \(e.g. baddata/a.txt\)"): fetch_package('baddata', '1.0', quiet=True)
    assert not (cache / 'packages' / 'baddata-1.0').exists()

def test_cli_verify_and_force(cache, capsys, monkeypatch):
    root = fetch_package('toydata', '1.0', quiet=True)
    assert main(['data', '--verify']) == 0
    assert 'toydata-1.0: ok, 2 files' in capsys.readouterr().out
    (root / 'toydata' / 'a.txt').write_bytes(b'hallo')
    assert main(['data', '--verify']) == 2
    out, err = capsys.readouterr()
    assert 'a.txt differs' in out and err.strip() == 'segkit data: --verify: 1 of 1 cached packages are damaged (see above)'
    monkeypatch.setattr(S, 'source_packages', lambda name: [('toydata', '1.0')])   # as if a source fetched toydata
    assert main(['data', 'synthetic_blobs', '--force']) == 0
    assert (root / 'toydata' / 'a.txt').read_bytes() == b'hello'
    assert main(['data', '--force']) == 2
    assert 'name the source to fetch again' in capsys.readouterr().err
    assert main(['data', 'mars', '--verify']) == 2

def test_cli_run_refuses_a_damaged_cache_before_the_run_folder(cache, capsys, monkeypatch, tmp_path):
    root = fetch_package('toydata', '1.0', quiet=True)
    (root / 'toydata' / 'a.txt').write_bytes(b'he')
    monkeypatch.setattr(S, 'source_packages', lambda name: [('toydata', '1.0')] if name == 'nuclei' else [])
    out = tmp_path / 'runs'
    assert main(['run', 'demo', '--source', 'nuclei', '--out', str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'a.txt has 2 bytes' in err and 'delete the folder' in err
    assert not out.exists()

def test_two_first_loads_at_once_fetch_once(cache, monkeypatch):
    "Two notebooks that load a source for the first time together: the second waits for the first's fetch and uses it."
    import threading, time
    calls, real = [], S._fetch_into
    def slow(*a, **k): calls.append(1); time.sleep(0.3); return real(*a, **k)   # a fetch long enough for the other to arrive
    monkeypatch.setattr(S, '_fetch_into', slow)
    out, errs = [], []
    def load():
        try: out.append(fetch_package('toydata', '1.0', quiet=True))
        except Exception as e: errs.append(e)
    ts = [threading.Thread(target=load) for _ in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errs and len(calls) == 1 and out[0] == out[1]
    assert verify_package(out[0], full=True)['files'] == 2
