"""A fault run through the CLI, on real small disks: full and read-only, kills at every phase, and damaged
files of every kind the app writes. Prints one line per case and the counts. Needs root (it mounts tmpfs
disks); not part of the test suite (tests/cli/test_disk_faults.py covers the same promises portably).

    sudo .venv/bin/python tests/faults/fault_run.py [--keep]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imagefactory import make_dataset, write_broken_files  # noqa: E402

PY = sys.executable
TRAIN = ["--input-size", "64", "--epochs", "3", "--batch-size", "8", "--cache-views", "1"]
results: list[tuple[str, bool, str]] = []


def cli(*args, env=None, timeout=600):
    proc = subprocess.run([PY, "-m", "flowerstudio", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


def case(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + ("" if ok else f"\n      {detail[-600:]}"), flush=True)


def clean(out: str) -> bool:
    return "Traceback" not in out


def expect(name: str, code: int, out: str, codes: tuple, words: str = "") -> None:
    case(name, code in codes and clean(out) and words in out, f"exit {code}: {out}")


def mount(path: Path, size_mb: int, read_only: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m" + (",ro" if read_only else ""), "tmpfs",
                    str(path)], check=True)
    return path


def fill(disk: Path, leave_kb: int = 64) -> None:
    """Fill ``disk`` up to ``leave_kb`` free."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))


def killed(args, when: str, env=None) -> tuple[int, str]:
    """Run the CLI, SIGKILL it when a line containing ``when`` is printed; (exit, output)."""
    proc = subprocess.Popen([PY, "-m", "flowerstudio", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                                     **(env or {})})
    out = []
    for line in proc.stdout:
        out.append(line)
        if when in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    return proc.returncode, "".join(out)


def model_loads(path: Path) -> bool:
    code = subprocess.run([PY, "-c", f"from flowerstudio.core.model.model_file import load_model; "
                                     f"load_model({str(path)!r})"], capture_output=True).returncode
    return code == 0


def disk_cases(work: Path, data: Path, model: Path) -> None:
    full = mount(work / "full", 40)
    fill(full)
    code, out = cli("train", data, "--output", full / "runs", *TRAIN)
    expect("full disk: runs folder", code, out, (2,), "the disk is full")
    env = {"FLOWERSTUDIO_CACHE_DIR": str(full / "cache")}
    code, out = cli("train", data, "--output", work / "runs-ok", *TRAIN, env=env)
    expect("full disk: feature cache (training goes on without it)", code, out, (0,), "without it")
    code, out = cli("predict", model, data / "test", "--csv", full / "labels.csv")
    expect("full disk: predict --csv", code, out, (2,), "full")
    code, out = cli("evaluate", model, data, "--out", full / "report")
    expect("full disk: evaluate --out", code, out, (2,), "full")
    code, out = cli("doctor", data, "--out", full / "doctor")
    expect("full disk: doctor --out", code, out, (2,), "full")
    code, out = cli("export", model, "--out", full / "m.onnx")
    expect("full disk: export", code, out, (2,), "full")
    code, out = cli("predict", model, data / "test", "--sort-into", full / "sorted")
    expect("full disk: predict --sort-into", code, out, (1, 2), "")
    ro = mount(work / "ro", 8, read_only=True)
    for name, args in (("train", ["train", data, "--output", ro / "runs", *TRAIN]),
                       ("predict --csv", ["predict", model, data / "test", "--csv", ro / "l.csv"]),
                       ("evaluate --out", ["evaluate", model, data, "--out", ro / "r"]),
                       ("doctor --out", ["doctor", data, "--out", ro / "d"]),
                       ("export", ["export", model, "--out", ro / "m.onnx"]),
                       ("sort", ["predict", model, data / "test", "--sort-into", ro / "s"])):
        code, out = cli(*args)
        expect(f"read-only disk: {name}", code, out, (2,), "read-only")
    code, out = cli("train", data, "--output", work / "runs-ro-cache", *TRAIN,
                    env={"FLOWERSTUDIO_CACHE_DIR": str(ro / "cache")})
    expect("read-only disk: feature cache", code, out, (0,), "without it")


def kill_cases(work: Path, data: Path, model: Path) -> None:
    runs = work / "kill-runs"
    env = {"FLOWERSTUDIO_CACHE_DIR": str(work / "kill-cache")}
    for when in ("Run folder", "Extracting features", "epoch 1:", "Calibration"):
        killed(["train", data, "--output", runs, *TRAIN], when, env)
        models = list(runs.rglob("*.safetensors"))
        temps = [p for p in runs.rglob("*.tmp")]
        ok = all(model_loads(m) for m in models)
        code, out = cli("train", data, "--output", runs, *TRAIN, env=env)
        left = [p for p in runs.rglob(".*.tmp")]
        case(f"kill during training at '{when}': files whole, next run clean", ok and code == 0 and not left,
             f"models ok {ok}, exit {code}, temps before {len(temps)} after {len(left)}: {out}")
    run = sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    killed(["train", data, "--output", work / "slow", "--input-size", "64", "--epochs", "50", "--batch-size",
            "8", "--no-feature-cache"], "epoch 2:", env)
    slow = sorted(p for p in (work / "slow").iterdir() if p.is_dir())[-1]
    code, out = cli("resume", slow, env=env)
    expect("kill mid-stage, then resume", code, out, (0,), "completed")
    for args in (["predict", model, data, "--csv", work / "k.csv"],
                 ["predict", model, data, "--sort-into", work / "ksorted"]):
        killed(args, "confidences")  # labelling has begun
        whole = not (work / "k.csv").exists() or (work / "k.csv").read_text().startswith("path,")
        code, out = cli(*args[:3], *args[3:], "--overwrite")
        litter = list(work.glob(".k.csv.*")) + list(work.rglob(".sorting.*.part"))
        case(f"kill during predict {args[3]}: nothing half-written, the rerun clean", whole and code in (0, 1)
             and not litter, f"exit {code}, litter {litter}: {out}")
    del run


def damage_cases(work: Path, data: Path, model: Path, run: Path) -> None:
    broken = work / "broken"
    broken.mkdir()
    samples = {"truncated model": model.read_bytes()[: model.stat().st_size // 2], "text as a model": b"hello\n",
               "garbage weights": model.read_bytes()[:-4096] + os.urandom(4096)}
    for name, blob in samples.items():
        path = broken / f"{name.replace(' ', '_')}.safetensors"
        path.write_bytes(blob)
        code, out = cli("predict", path, data / "test")
        expect(f"damaged model file: {name}", code, out, (2,), "")
    for name, blob in (("split.json", b"{"), ("config.json", b"[1, 2"), ("history.json", b"nope"),
                       ("last_state.pt", b"\x00\x01")):
        copy = Path(shutil.copytree(run, work / f"dmg-{name}"))
        (copy / name).write_bytes(blob)
        code, out = cli("resume" if name != "split.json" else "retrain", copy)
        expect(f"damaged run file: {name}", code, out, (2,), name)
    cache = work / "dmg-cache"
    env = {"FLOWERSTUDIO_CACHE_DIR": str(cache)}
    cli("train", data, "--output", work / "dmg-runs", *TRAIN, env=env)
    for seg in cache.rglob("seg-*.safetensors"):
        raw = bytearray(seg.read_bytes())
        raw[-100:] = os.urandom(100)
        seg.write_bytes(bytes(raw))
    code, out = cli("train", data, "--output", work / "dmg-runs", *TRAIN, env=env)
    expect("damaged feature cache: rows rebuilt, run completes", code, out, (0,), "completed")
    case("damaged feature cache: no nan loss", "nan" not in out.lower(), out)
    names = work / "names-data"
    shutil.copytree(data, names)
    (names / "cat_to_name.json").write_text("{broken")
    code, out = cli("train", names, "--output", work / "n-runs", *TRAIN)
    expect("damaged names file", code, out, (2,), "cat_to_name.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the fault run mounts small disks: run it as root")
        return 2
    work = Path(tempfile.mkdtemp(prefix="fs-faults-"))
    os.environ["FLOWERSTUDIO_SORT_LOGS"] = str(work / "sort-logs")
    os.environ["XDG_DATA_HOME"] = str(work / "user-data")
    data = make_dataset(work / "data", classes=("a", "b", "c"), per_class=10, with_test=True, size=(48, 48))
    write_broken_files(data / "train" / "a")
    start = time.time()
    code, out = cli("train", data, "--output", work / "runs", *TRAIN)
    run = sorted(p for p in (work / "runs").iterdir() if p.is_dir())[-1]
    model = run / "best.safetensors"
    try:
        disk_cases(work, data, model)
        kill_cases(work, data, model)
        damage_cases(work, data, model, run)
    finally:
        for disk in ("full", "ro"):
            subprocess.run(["umount", str(work / disk)], capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(ok for _, ok, _ in results)
    print(f"\n{passed} of {len(results)} cases hold, {len(results) - passed} fail ({time.time() - start:.0f} s)")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
