"""`flowerstudio predict` under torchrun: each process labels its share and writes its part of the CSV,
rank 0 merges the parts and sorts; the result is what one process gives."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from imagefactory import make_dataset, write_broken_files

from flowerstudio.core.labelling import shards
from flowerstudio.core.model.model_file import ModelInfo
from modelfiles import save_model
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.labelling.predict import Prediction, write_csv

CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    data = make_dataset(root / "data", classes=CLASSES, per_class=9, layout="flat")
    write_broken_files(data / "b")  # unreadable photos are counted wherever they fall
    torch.manual_seed(0)
    model = build_classifier("efficientnet_lite0", len(CLASSES), pretrained=False).eval()
    save_model(root / "model.safetensors", model,
               ModelInfo("efficientnet_lite0", CLASSES, CLASSES, 64, [0.5] * 3, [0.5] * 3))
    return root / "model.safetensors", data


def _predict(args, work, processes: int):
    env = {**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(work / "cache"), "PYTHONUNBUFFERED": "1"}
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
              if processes > 1 else [sys.executable])
    out = subprocess.run([*launch, "-m", "flowerstudio", "predict", *args], capture_output=True, text=True,
                         timeout=300, env=env)
    # The data holds 3 unreadable photos: listed, and the exit status says some photos failed.
    assert out.returncode == 1 and "3 unreadable" in out.stdout, out.stderr[-3000:]
    return out.stdout


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _sorted_tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_two_processes_write_what_one_process_writes(setup, tmp_path):
    model, data = setup
    runs = {}
    for n in (1, 2):
        work = tmp_path / f"p{n}"
        work.mkdir()
        stdout = _predict([str(model), str(data), "--csv", str(work / "labels.csv"), "--sort-into",
                           str(work / "sorted"), "--min-confidence", "0.2"], work, n)
        runs[n] = (work, stdout)
    (one, _), (two, out2) = runs[1], runs[2]
    assert out2.count("done: 27 photos labelled") == 1 and "3 unreadable" in out2  # rank 0 alone reports
    rows1, rows2 = _rows(one / "labels.csv"), _rows(two / "labels.csv")
    assert len(rows2) == 28 and rows2[0] == rows1[0]  # one header, every photo, in the same order
    for r1, r2 in zip(rows1[1:], rows2[1:]):
        assert r1[:2] == r2[:2]  # path and label
        assert float(r1[2]) == pytest.approx(float(r2[2]), abs=1e-5)  # 1 or 2 threads: rounding only
    assert sorted(p.name for p in two.iterdir()) == ["cache", "labels.csv", "sorted"]  # the parts are merged away
    assert _sorted_tree(one / "sorted") == _sorted_tree(two / "sorted")


@pytest.mark.slow
def test_two_processes_print_every_label_once_in_order(setup, tmp_path):
    model, data = setup
    lines = [line for line in _predict([str(model), str(data)], tmp_path, 2).splitlines() if "\t" in line]
    assert [line.split("\t")[0] for line in lines] == sorted(line.split("\t")[0] for line in lines)
    assert len(lines) == 27


def test_shares_are_contiguous_and_cover_every_photo():
    paths = [f"p{i:02d}" for i in range(11)]
    for world in (1, 2, 3, 4, 16):
        parts = [shards.share(paths, Distributed(rank, world)) for rank in range(world)]
        assert [p for part in parts for p in part] == paths


def test_parts_merge_into_one_csv_under_one_header(tmp_path):
    preds = [Prediction(f"/photos/{i}.jpg", i % 2, "ab"[i % 2], 0.9, (("ab"[i % 2], 0.9), ("ba"[i % 2], 0.1)))
             for i in range(5)]
    write_csv(preds, tmp_path / "whole.csv", 2)
    target = tmp_path / "merged.csv"
    world = 3
    for rank in range(world):
        dist = Distributed(rank, world)
        write_csv(shards.share(preds, dist), shards.part_path(target, dist), 2)
    shards.merge_csv(target, Distributed(0, world))
    assert target.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.csv", "whole.csv"]
