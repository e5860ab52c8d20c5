"""The start-up check names the exact packages Qt's X11 plugin is missing."""
from flowerstudio.gui import preflight


def test_debian_package_names_follow_the_library_naming_rule():
    assert preflight.debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert preflight.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert preflight.debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"


def test_missing_libraries_are_named_with_the_install_command(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    ldd = ("\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x1)\n"
           "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-keysyms.so.1 => not found\n")
    monkeypatch.setattr(preflight.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(preflight, "xcb_plugin", lambda: plugin)
    monkeypatch.setattr(preflight.subprocess, "run", lambda *a, **k: type("R", (), {"stdout": ldd})())
    message = preflight.check_display_libraries()
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in message
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no X11 needed: no check
    assert preflight.check_display_libraries() is None

