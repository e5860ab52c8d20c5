"""RunWriter: the best/last policy and the run folder's files, without training anything."""
import json
import shutil
from pathlib import Path

import torch
from tinyrun import tiny_config

from flowerstudio.core.runs import folders as runs
from flowerstudio.core.model.model_file import ModelInfo, read_model_info
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.events import BadImage, CheckpointSaved, EpochMetrics, Log
from flowerstudio.core.foundation.events import Score
from flowerstudio.core.runs.history import read_history
from flowerstudio.core.runs.resume_state import ResumeState
from flowerstudio.core.runs.writer import RunWriter
from flowerstudio.core.training.trainer import train
from flowerstudio.core.foundation.vocab import CheckpointKind

VAL = 20  # validation photos of these made-up epochs


def _metrics(epoch, val_acc, val_loss, stage="frozen"):
    right = round(val_acc * VAL)
    return EpochMetrics(epoch, stage, 1.0, 0.5, val_loss, right / VAL, 1e-3, 0.1, val_correct=right, val_total=VAL)


def _info(m):
    return ModelInfo(backbone="x", classes=["a", "b"], display_names=["a", "b"], input_size=32,
                     mean=[0.5] * 3, std=[0.5] * 3, best_val_acc=m.val_acc, epoch=m.epoch, stage=m.stage,
                     val_correct=m.val_correct, val_total=m.val_total, val_loss=m.val_loss)


def _epoch(writer, m, model):
    return writer.epoch_ended(m, model, _info(m), ResumeState(m.epoch, 1, {}, {}, torch.get_rng_state()))


def test_best_by_accuracy_ties_to_the_lower_loss(tmp_path):
    events = []
    writer = RunWriter(events.append)
    writer.open(tmp_path)
    model = torch.nn.Linear(2, 2)
    flags = [_epoch(writer, m, model).is_best for m in (
        _metrics(1, 0.5, 1.0),
        _metrics(2, 0.7, 0.9),   # better accuracy
        _metrics(3, 0.7, 0.95),  # same accuracy, higher loss: not better
        _metrics(4, 0.7, 0.8),   # same accuracy, lower loss: better
        _metrics(5, 0.6, 0.1),   # lower accuracy: the loss does not matter
    )]
    assert flags == [True, True, False, True, False]
    assert (writer.best, writer.best_epoch) == (Score(14, VAL, 0.8), 4)
    assert read_model_info(tmp_path / runs.BEST).epoch == 4
    assert read_model_info(tmp_path / runs.BEST).score == Score(14, VAL, 0.8)
    assert read_model_info(tmp_path / runs.LAST).epoch == 5
    assert ResumeState.load(tmp_path / runs.LAST_STATE).epoch == 5
    assert [e.epoch for e in events if isinstance(e, CheckpointSaved)] == [1, 2, 4]
    assert all(e.kind is CheckpointKind.BEST for e in events)
    assert [m.is_best for m in read_history(tmp_path)] == flags


def test_stages_compare_exactly_and_a_tie_keeps_the_earlier_model(tmp_path):
    """14 of 20 and 28 of 40 are the same share: counts, not floats of two precisions, decide; then the
    loss. A fine-tune that ties the frozen stage with a higher loss does not replace its model."""
    writer = RunWriter()
    writer.open(tmp_path)
    model = torch.nn.Linear(2, 2)
    frozen = EpochMetrics(1, "frozen", 1.0, 0.5, 0.885, 0.699999988079071, 1e-3, 0.1, val_correct=28, val_total=40)
    tuned = EpochMetrics(2, "all", 1.0, 0.5, 0.900, 0.7, 1e-4, 0.1, val_correct=14, val_total=20)
    assert _epoch(writer, frozen, model).is_best
    assert not _epoch(writer, tuned, model).is_best
    assert writer.best_epoch == 1 and read_model_info(tmp_path / runs.BEST).stage == "frozen"
    assert Score(14, 20, 0.9).beats(None) and not Score(28, 40, 0.9).beats(Score(14, 20, 0.9))
    assert Score(29, 40, 2.0).beats(Score(14, 20, 0.1))


def test_log_keeps_lines_from_before_the_folder_and_appends(tmp_path):
    (tmp_path / "train.log").write_text("earlier stage\n")
    writer = RunWriter()
    writer.record(Log("scanned", "warning"))  # before open(): the scan runs before the folder exists
    writer.open(tmp_path)
    writer.record(BadImage("/x.jpg", "empty file"))
    writer.record(CheckpointSaved("/b", "best", 1, 0.5))  # not a log line
    writer.close()
    assert (tmp_path / "train.log").read_text() == (
        "earlier stage\nwarning: scanned\nbad image skipped: /x.jpg: empty file\n")
    assert not (tmp_path / "history.json").exists()  # no epoch yet: what makes it an unfinished start


def test_a_writer_that_does_not_write_keeps_the_policy(tmp_path):
    events = []
    writer = RunWriter(events.append)
    writer.open(tmp_path, writes=False)
    assert _epoch(writer, _metrics(1, 0.5, 1.0), torch.nn.Linear(2, 2)).is_best
    writer.record(Log("x"))
    writer.close()
    assert writer.best_epoch == 1 and len(writer.history) == 1
    assert list(tmp_path.iterdir()) == [] and events == []


def test_a_full_disk_still_leaves_the_log_with_the_reason(tmp_path, monkeypatch):
    """A model file that cannot be written stops the run with a DiskError; train.log still gets its lines."""
    import errno

    from flowerstudio.core.foundation.errors import DiskError
    from flowerstudio.core.model import model_file

    writer = RunWriter()
    writer.open(tmp_path)
    writer.record(Log("scanned"))
    writer.defer_files({"weight", "bias"})
    _epoch(writer, _metrics(1, 0.5, 1.0), torch.nn.Linear(2, 2))

    def full(path, data):
        raise DiskError(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(model_file, "atomic_write_bytes", full)
    try:
        writer.close()
    except DiskError as exc:
        assert "best.safetensors" in str(exc) and "the disk is full" in str(exc)
    else:
        raise AssertionError("a full disk must not pass silently")
    log = (tmp_path / "train.log").read_text()
    assert "info: scanned" in log and "error: Cannot write" in log and "the disk is full" in log


def test_continuing_a_run_restores_history_and_best(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run.run_dir, run)
    best = read_model_info(run / runs.BEST)
    writer = RunWriter()
    writer.open(run, continuing=True, up_to_epoch=best.epoch)  # a crash before later epochs were written
    assert [m.epoch for m in writer.history] == list(range(1, best.epoch + 1))
    assert writer.best_epoch == best.epoch and writer.best == best.score == writer.best_before
    tie = EpochMetrics(9, "all", 1.0, 0.5, best.score.loss, 0.0, 1e-3, 0.1, val_correct=best.score.correct,
                       val_total=best.score.total)
    assert not tie.score.beats(writer.best)  # so a tie with that epoch keeps it
    assert tie.score.__class__(tie.score.correct, tie.score.total, best.score.loss / 2).beats(writer.best)


def test_config_json_is_the_config_the_run_used(trained_run, tiny_data, tmp_path):
    """The start model's backbone wins over the config's, and it is in config.json; the caller's config
    is left alone."""
    start = tmp_path / "start.safetensors"  # a lone model file: the stage gets a new run folder
    shutil.copy(trained_run.best_path, start)
    cfg = tiny_config(tiny_data, tmp_path / "runs", epochs=1, backbone="resnet18", resume_from=str(start))
    result = train(cfg)
    saved = TrainConfig.load(Path(result.run_dir) / "config.json")
    assert saved.backbone == "efficientnet_lite0" == read_model_info(result.best_path).backbone
    assert read_model_info(result.best_path).config == saved.to_dict()
    assert cfg.backbone == "resnet18"
    assert Path(result.run_dir).name.endswith("efficientnet_lite0")


def test_deferred_files_hold_the_best_and_the_last_epochs_weights(tmp_path):
    """Deferred (the frozen stage on cached features): nothing is written until close(), and each file
    holds its own epoch's weights although the trained tensors change in place after it; the tensors
    the stage does not train are written as they are."""
    from safetensors.torch import load_file

    writer = RunWriter()
    writer.open(tmp_path)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))  # "0." frozen, "1." trained
    writer.defer_files({"1.weight", "1.bias"})
    seen = {}
    for m in (_metrics(1, 0.5, 1.0), _metrics(2, 0.7, 0.9), _metrics(3, 0.6, 0.8)):
        with torch.no_grad():
            model[1].weight.add_(1.0)  # an epoch's steps, in place as an optimizer makes them
        seen[m.epoch] = model[1].weight.clone()
        _epoch(writer, m, model)
    assert not (tmp_path / runs.BEST).exists()
    writer.close()
    best, last = load_file(tmp_path / runs.BEST), load_file(tmp_path / runs.LAST)
    assert torch.equal(best["1.weight"], seen[2]) and torch.equal(last["1.weight"], seen[3])
    assert torch.equal(best["0.weight"], model[0].weight.detach())
    assert read_model_info(tmp_path / runs.BEST).epoch == 2
