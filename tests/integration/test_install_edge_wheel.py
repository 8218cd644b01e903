"""The gateway installer (deploy/install-edge.sh) from the wheel `make dist` builds, under a scratch root.

The wheel is built once per session (as `make dist` does: sdist, then the wheel from it, with the C
payload code left out) and installed by the real script into a real venv; pip fetches the [edge]
dependencies from the package index (its cache makes that quick). Only user creation, ownership
and systemctl are not exercised: the script skips them when --root is not /.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import watertel
from tests.support.checks import need
from tests.support.paths import ROOT

SCRIPT = ROOT / "deploy" / "install-edge.sh"
GATEWAY = "gw-0042"


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make dist`'s command into a temporary folder: the sdist, and the wheel built from it."""
    out, src = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("src") / "watertel"
    # from a copy: building the sdist stages files in the source folder, which a concurrent build shares
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "dist", "build", "*.egg-info", "__pycache__", "*.so", ".pytest_cache", ".hypothesis",
        "demo-data", "soak-data"))
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          env={**os.environ, "WATERTEL_PURE_WHEEL": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out


def installer(*args: str, root: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--python", sys.executable, *args],
                          capture_output=True, text=True, timeout=timeout)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its mode and size: what a dry run must leave as it was."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_size) for p in root.rglob("*")}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def verify_unit(unit: Path, watertel_bin: Path, folder: Path) -> None:
    """`systemd-analyze verify` on a copy pointing at the scratch venv, its drop-in beside it: no warning."""
    folder.mkdir()
    (folder / unit.name).write_text(unit.read_text().replace("/opt/watertel/bin/watertel", str(watertel_bin)))
    shutil.copytree(unit.with_suffix(".service.d"), folder / (unit.name + ".d"))
    done = subprocess.run(["systemd-analyze", "verify", str(folder / unit.name)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


def test_make_dist_builds_a_pure_wheel_and_an_sdist_with_the_c_code(dist):
    version = watertel.__version__
    wheel, sdist = dist / f"watertel-{version}-py3-none-any.whl", dist / f"watertel-{version}.tar.gz"
    assert sorted(p.name for p in dist.iterdir()) == sorted([wheel.name, sdist.name])
    names = zipfile.ZipFile(wheel).namelist()
    assert "watertel/envelope.py" in names and "watertel/edge_agent/agent.py" in names
    assert "watertel/firmware_profiles/emf_flow_meter.yaml" in names
    assert not [n for n in names if n.endswith((".so", ".c"))], "the wheel must need no compiler and no platform"
    with tarfile.open(sdist) as tar:
        members = set(tar.getnames())
    base = f"watertel-{version}/"
    assert {base + "watertel/_payload.c", base + "deploy/install-edge.sh", base + "deploy/edge.example.yaml",
            base + "deploy/systemd/watertel-edge.service"} <= members


def test_installer_is_shellcheck_clean():
    need(shutil.which("shellcheck") is not None, "shellcheck")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_dry_run_prints_every_step_and_changes_nothing(dist, tmp_path):
    (tmp_path / "etc").mkdir()
    before = tree(tmp_path)
    done = installer("--wheel", str(next(dist.glob("*.whl"))), "--gateway", GATEWAY, "--dry-run", root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert tree(tmp_path) == before
    steps = [line for line in done.stdout.splitlines() if line.startswith("+ ")]
    for expected in ("-m venv", "pip install", "edge.yaml", f"keys new --gateway {GATEWAY}", "/var/lib/watertel",
                     "node-exporter", "watertel-edge.service", "textfile.conf"):
        assert any(expected in line for line in steps), f"no step for {expected}:\n{done.stdout}"
    assert "skip: creating system user watertel (--root is" in done.stdout


def test_installs_from_the_wheel_edge_check_names_what_is_missing_and_uninstall_removes_it(dist, tmp_path):
    wheel = str(next(dist.glob("*.whl")))
    done = installer("--wheel", wheel, "--gateway", GATEWAY, root=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    opt, etc, state = tmp_path / "opt/watertel", tmp_path / "etc/watertel", tmp_path / "var/lib/watertel"
    config, key = etc / "edge.yaml", etc / "keys" / f"{GATEWAY}.key.pem"
    unit = tmp_path / "etc/systemd/system/watertel-edge.service"
    assert "skip: creating system user watertel" in done.stdout and "skip: systemctl" in done.stdout
    # both halves go to the agent's user on a real system: `edge check` (as watertel) reads the .pub.pem too
    assert f"skip: chown watertel:watertel {key} {key.with_name(GATEWAY + '.pub.pem')} (--root is" in done.stdout

    assert (mode(etc), mode(state), mode(key)) == (0o750, 0o700, 0o600)
    assert f"gateway_id: {GATEWAY}" in config.read_text() and "gw-0001" not in config.read_text()
    assert "status_file: /var/lib/prometheus/node-exporter/watertel-edge.json" in config.read_text()
    assert (tmp_path / "var/lib/prometheus/node-exporter").is_dir()
    assert unit.read_text() == (ROOT / "deploy/systemd/watertel-edge.service").read_text()
    assert "ReadWritePaths=-/var/lib/prometheus/node-exporter" in (unit.parent / "watertel-edge.service.d/textfile.conf").read_text()

    if shutil.which("systemd-analyze"):  # the unit with its drop-in, as systemd would load them (Debian has it)
        verify_unit(unit, opt / "bin/watertel", tmp_path / "verify")

    # the installed command checks the example: it must not pass, and must say what is missing
    check = subprocess.run([str(opt / "bin/watertel"), "edge", "check", "--config", str(config)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    answer = check.stdout + check.stderr
    assert check.returncode == 1 and "Traceback" not in answer, answer
    assert f"uplink.password_file: {etc}/secrets/mqtt-password does not exist" in answer
    assert f"uplink.tls.ca_file: {etc}/tls/ca.pem does not exist" in answer

    # run again: the edited config and the key are kept, never overwritten
    config.write_text(config.read_text() + "# edited on site\n")
    key_pem = key.read_bytes()
    again = installer("--wheel", wheel, "--gateway", GATEWAY, root=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "keep: " + str(config) in again.stdout and "keep: " + str(key) in again.stdout
    assert config.read_text().endswith("# edited on site\n") and key.read_bytes() == key_pem

    # a dry-run uninstall changes nothing; the uninstall keeps /etc/watertel and /var/lib/watertel
    before = tree(tmp_path)
    assert installer("--uninstall", "--dry-run", root=tmp_path).returncode == 0
    assert tree(tmp_path) == before
    gone = installer("--uninstall", root=tmp_path)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not opt.exists() and not unit.exists() and not unit.with_suffix(".service.d").exists()
    assert not (tmp_path / "var/lib/prometheus/node-exporter").exists()  # the installer made it: removed
    assert key.read_bytes() == key_pem and config.exists() and state.is_dir()

    purged = installer("--uninstall", "--purge", root=tmp_path)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not etc.exists() and not state.exists()
    assert "skip: removing user watertel" in purged.stdout


@pytest.mark.parametrize("args, message", [
    (["--purge"], "--purge goes with --uninstall"),
    (["--gateway", "../etc"], "must start with a letter or digit"),
    (["--gateway", "gw/1"], "only letters, digits"),
    (["--wheel", "/nonexistent.whl"], "--wheel /nonexistent.whl: no such file"),
    (["--bogus"], "unknown option --bogus"),
])
def test_bad_options_are_one_clear_error(tmp_path, args, message):
    done = installer(*args, root=tmp_path, timeout=60)
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
