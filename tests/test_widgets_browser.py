"""The widget tutorials run in a real JupyterLab driven by Playwright (Debian Chromium): every widget renders, reacts to a dropdown and a slider, and shows no error."""
import json, os, secrets, shutil, socket, subprocess, sys, time, urllib.request, warnings
from pathlib import Path
import pytest
from conftest import ROOT

ART = ROOT / 'test-artifacts'
TUTORIALS = ROOT / 'nbs' / 'tutorials'
# notebook -> (dropdown to change, slider to move), both by their ipywidgets description
CASES = {'cam_inspector.ipynb': ('method', 'image'), 'neighbor_explorer.ipynb': ('PCA', 'query'),
         'feature_maps.ipynb': ('layer', 'channel rank'), 'coheg_explorer.ipynb': ('show', 'sample'),
         'plantseg_beta.ipynb': ('method', 'β'),
         'noise_explorer.ipynb': ('preset', 'rate'),
         'im_explorer.ipynb': ('erosion e', 'ULD image')}

def _skip(msg):
    warnings.warn(msg); print(f"\nWARNING: {msg}")
    pytest.skip(msg)

def _chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if exe is None: _skip("Chromium not found: the JupyterLab widget test is SKIPPED (run `make test` as root to install it)")
    return exe

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _get(url, timeout=2.):
    with urllib.request.urlopen(url, timeout=timeout) as r: return r.status, r.read()

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server on a free port with a token, serving a copy of the tutorials (outputs cleared); yields (url, token, proc)."
    try: import playwright.sync_api  # noqa: F401
    except ImportError: _skip("playwright is not installed (pip install playwright): the JupyterLab widget test is SKIPPED")
    jupyter = Path(sys.executable).parent / 'jupyter'
    if not jupyter.exists(): _skip(f"jupyter not found next to {sys.executable}: the JupyterLab widget test is SKIPPED")
    tmp = tmp_path_factory.mktemp('lab')
    nbs = tmp / 'nbs'; nbs.mkdir()
    for name in CASES:
        nb = json.loads((TUTORIALS / name).read_text())
        for c in nb['cells']:
            if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
        (nbs / name).write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]),
           'JUPYTER_RUNTIME_DIR': str(tmp / 'runtime'), 'JUPYTERLAB_WORKSPACES_DIR': str(tmp / 'workspaces'),
           'JUPYTERLAB_SETTINGS_DIR': str(tmp / 'settings'), 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    cmd = [str(jupyter), 'lab', '--no-browser', f'--port={port}', '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={nbs}', '--LabApp.expose_app_in_browser=True', '--ServerApp.port_retries=0',
           '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    log = open(tmp / 'server.log', 'w')
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=nbs)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            if proc.poll() is not None: break
            try:
                if _get(f'{url}/api/status?token={token}')[0] == 200: break
            except OSError: time.sleep(0.5)
        else: pytest.fail("JupyterLab did not start in 60 s:\n" + (tmp / 'server.log').read_text()[-3000:])
        if proc.poll() is not None: pytest.fail("JupyterLab exited:\n" + (tmp / 'server.log').read_text()[-3000:])
        yield url, token, proc
    finally:
        try: urllib.request.urlopen(urllib.request.Request(f'{url}/api/shutdown?token={token}', method='POST'), timeout=5)
        except OSError: pass
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(5)
        log.close()

@pytest.fixture(scope='module')
def browser(lab):
    exe = _chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True,
                              args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'])
        yield b
        b.close()

def _shutdown_kernels(url, token):
    "Stop the notebook's kernel (one per tutorial would otherwise stay alive until the server stops)."
    try:
        for k in json.loads(_get(f'{url}/api/kernels?token={token}')[1]):
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/kernels/{k['id']}?token={token}", method='DELETE'), timeout=10)
    except OSError: pass

_ALL_RUN = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.content || !nb.sessionContext.session || !nb.sessionContext.session.kernel) return false;
  const cells = nb.content.widgets.filter(c => c.model.type === 'code');
  return nb.sessionContext.session.kernel.status === 'idle' && cells.every(c => c.model.executionCount !== null);
}"""

_ERRORS = """() => {
  const out = [];
  document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').forEach(e => {
    if (/Traceback|Error/.test(e.innerText)) out.push(e.innerText.slice(0, 600)); });
  document.querySelectorAll('.segkit-error').forEach(e => { if (e.innerText.trim()) out.push('widget: ' + e.innerText.trim()); });
  if (document.body.innerText.includes('Error displaying widget')) out.push('Error displaying widget');
  return out;
}"""

def _control(page, cls, description):
    "The ipywidgets control of class `cls` ('widget-dropdown', 'widget-slider') whose label is `description`."
    loc = page.locator(f'.{cls}').filter(has=page.locator('label', has_text=description))
    assert loc.count() >= 1, f"no {cls} labelled {description!r}"
    return loc.first

def _wait_new_image(page, view, old_src, old_png, what, timeout=20.):
    t0 = time.time()
    while time.time() - t0 < timeout:
        errs = page.evaluate(_ERRORS)
        assert not errs, f"{what}: error output {errs}"
        if view.get_attribute('src') != old_src:
            page.wait_for_timeout(150)
            png = view.screenshot()
            if png != old_png: return png
        page.wait_for_timeout(100)
    pytest.fail(f"{what}: the rendered image did not change within {timeout} s")

@pytest.mark.slow
@pytest.mark.parametrize('name', list(CASES))
def test_widget_tutorial_in_jupyterlab(lab, browser, name):
    url, token, _ = lab
    dropdown, slider = CASES[name]
    ART.mkdir(exist_ok=True)
    stem = Path(name).stem
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    console_errors = []
    page.on('pageerror', lambda e: console_errors.append(str(e)))
    try:
        page.goto(f'{url}/lab/tree/{name}?token={token}&reset')
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(_ALL_RUN, timeout=120_000, polling=250)
        view = page.locator('img.segkit-view').first
        view.wait_for(state='visible', timeout=30_000)
        view.scroll_into_view_if_needed()
        page.wait_for_function("() => { const i = document.querySelector('img.segkit-view'); return i && i.naturalWidth > 0; }", timeout=30_000)
        assert page.evaluate(_ERRORS) == [], page.evaluate(_ERRORS)
        png0 = view.screenshot(); page.screenshot(path=str(ART / f'widgets-{stem}-0-initial.png'))
        # a dropdown: choose another option
        dd = _control(page, 'widget-dropdown', dropdown).locator('select')
        opts = dd.locator('option').all_text_contents()
        assert len(opts) > 1, f"{dropdown!r} has one option"
        src = view.get_attribute('src')
        dd.select_option(index=1)
        png1 = _wait_new_image(page, view, src, png0, f"{name}: dropdown {dropdown!r} → {opts[1]!r}")
        page.screenshot(path=str(ART / f'widgets-{stem}-1-dropdown.png'))
        # a slider: one step to the right with the keyboard
        handle = _control(page, 'widget-slider', slider).locator('.noUi-handle').first
        src = view.get_attribute('src')
        handle.focus(); handle.press('ArrowRight')
        _wait_new_image(page, view, src, png1, f"{name}: slider {slider!r} +1 step")
        page.screenshot(path=str(ART / f'widgets-{stem}-2-slider.png'))
        assert page.evaluate(_ERRORS) == []
        assert not console_errors, console_errors[:3]
    finally:
        page.close()
        _shutdown_kernels(url, token)
