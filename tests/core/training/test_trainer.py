import json
import os
from pathlib import Path

import torch
from tinyrun import tiny_config

from flowerstudio.core.model.model_file import load_model, read_model_info
import pytest

from flowerstudio.core.foundation.events import Cancelled, CancelToken, CheckpointSaved, EpochEnd, PhaseStarted, Progress
from flowerstudio.core.runs.history import RunError
from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.training.trainer import train


def test_run_folder_holds_everything(trained_run):
    run = Path(trained_run.run_dir)
    for name in ("config.json", "split.json", "history.csv", "history.json", "train.log",
                 "best.safetensors", "last.safetensors", "last_state.pt"):
        assert (run / name).is_file(), name
    assert [m.epoch for m in trained_run.history] == [1, 2, 3, 4, 5, 6]
    assert trained_run.best_val_acc >= 0.66
    info = read_model_info(trained_run.best_path)
    assert info.classes == ["1", "2", "10"]  # numeric folders sort numerically
    assert info.display_names[2] == "globe thistle"
    assert info.epoch == trained_run.best_epoch


def test_bad_photos_are_skipped_and_listed(trained_run):
    bad = dict(trained_run.bad_images)
    names = {Path(p).name for p in bad}
    assert {"empty.jpg", "notes.png", "truncated.jpg"} <= names
    log = (Path(trained_run.run_dir) / "train.log").read_text()
    assert "truncated.jpg" in log and "empty.jpg" in log


def _backbone_state(model):
    return {k: v.clone() for k, v in model.backbone.state_dict().items()}


def test_frozen_epoch_leaves_backbone_weights_and_batchnorm_statistics_alone(tiny_data, tmp_path):
    pretrained = _backbone_state(build_classifier("efficientnet_lite0", 3))
    result = train(tiny_config(tiny_data, tmp_path, epochs=1, feature_cache=False))
    trained, _ = load_model(result.best_path)
    after = _backbone_state(trained)
    assert any("running_mean" in k for k in after)
    for key, value in pretrained.items():
        assert torch.equal(value, after[key]), f"{key} changed during a frozen epoch"


def test_cancel_stops_within_a_batch_and_keeps_the_best(tiny_data, tmp_path):
    token = CancelToken()
    seen = []

    def callback(event):
        seen.append(event)
        if isinstance(event, Progress) and event.phase == "train" and event.epoch == 2:
            token.cancel()

    with pytest.raises(Cancelled) as stop:
        train(tiny_config(tiny_data, tmp_path, epochs=5, feature_cache=False, batch_size=4), callback, token)
    result = stop.value.partial
    assert result.status == "cancelled"
    assert [m.epoch for m in result.history] == [1]
    train_batches_epoch2 = [e for e in seen if isinstance(e, Progress) and e.phase == "train" and e.epoch == 2]
    assert len(train_batches_epoch2) == 1
    load_model(result.best_path)  # still loadable


def test_cancel_during_feature_extraction(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    token = CancelToken()

    def callback(event):
        if isinstance(event, Progress) and event.phase == "extract":
            token.cancel()

    with pytest.raises(Cancelled) as stop:
        train(tiny_config(tiny_data, tmp_path, batch_size=4), callback, token)
    result = stop.value.partial
    assert result.status == "cancelled" and result.history == [] and result.best_path is None


def test_fine_tune_continues_the_run(trained_run, tiny_data, tmp_path):
    import shutil

    # A copy: the session's trained_run stays as other tests expect it, whatever the order.
    run = Path(shutil.copytree(trained_run.run_dir, tmp_path / "runs" / Path(trained_run.run_dir).name))
    before = read_model_info(run / "best.safetensors")
    events = []
    cfg = tiny_config(tiny_data, run.parent, epochs=1, train_mode="all", lr=1e-4, resume_from=str(run))
    result = train(cfg, events.append)
    assert result.run_dir == str(run)
    assert [m.stage for m in result.history] == ["frozen"] * 6 + ["all"]
    assert result.history[-1].epoch == 7
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.metrics.stage for e in ends] == ["all"]
    # The fine-tuning epoch replaces the best model exactly when it beats it (share right, then loss).
    tuned = result.history[-1]
    beats = tuned.score.beats(before.score)
    saved = [(e.kind, e.epoch) for e in events if isinstance(e, CheckpointSaved)]
    assert saved == ([("best", 7)] if beats else [])
    after = read_model_info(run / "best.safetensors")
    assert (after.epoch, after.stage) == ((7, "all") if beats else (before.epoch, "frozen"))
    assert result.best_epoch == after.epoch and result.best == after.score
    assert result.before == before.score and result.gained == beats
    assert read_model_info(Path(trained_run.run_dir) / "best.safetensors").epoch == before.epoch  # untouched


def test_last_stages_mode_trains(tiny_data, tmp_path):
    result = train(tiny_config(tiny_data, tmp_path, epochs=1, train_mode="last_stages", unfreeze_stages=1))
    assert result.status == "completed" and result.history[0].stage == "last_stages"


def test_feature_cache_is_reused_and_refreshed(tmp_path, monkeypatch):
    from imagefactory import make_dataset

    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=6, layout="flat")

    def extracted(**kw):
        events = []
        train(tiny_config(data, tmp_path / "runs", **{"epochs": 1, **kw}), events.append)
        return sum(e.total for e in events if isinstance(e, PhaseStarted) and e.phase == "extract")

    first = extracted()
    assert first == 2 * 10 + 2  # two views of 10 training photos, 2 validation photos
    assert extracted(lr=1e-2, epochs=2) == 0  # other hyperparameters: no extraction
    photo = next((data / "a").glob("*.jpg"))
    os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**9))
    assert extracted() in (1, 2)  # the changed photo only (train: two views; val: one)
    for f in (tmp_path / "cache").rglob("*.safetensors"):
        f.write_bytes(b"garbage")
    assert extracted() == first  # a corrupt cache is rebuilt, not trusted
    assert extracted(input_size=72) == first  # another recipe, another cache


def test_torchvision_backbone_with_local_weights_file(tiny_data, tmp_path):
    import torchvision

    weights = tmp_path / "resnet18-local.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    result = train(tiny_config(tiny_data, tmp_path, epochs=1, backbone="resnet18", weights=str(weights)))
    assert result.status == "completed"
    assert read_model_info(result.best_path).backbone == "resnet18"


def test_photo_that_fails_mid_run_does_not_stop_it(tmp_path):
    """A photo that passed the scan but cannot be read when its batch comes (here: deleted)."""
    from imagefactory import make_dataset

    from flowerstudio.core.foundation.events import BadImage

    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=6, layout="flat")
    victim = sorted((data / "a").glob("*.jpg"))[0]
    events = []

    def callback(event):
        events.append(event)
        if isinstance(event, PhaseStarted) and event.phase == "train" and victim.exists():
            victim.unlink()

    result = train(tiny_config(data, tmp_path / "runs", epochs=2, feature_cache=False), callback)
    assert result.status == "completed" and len(result.history) == 2
    bad = [e for e in events if isinstance(e, BadImage)]
    assert [Path(e.path).name for e in bad] == [victim.name]
    assert victim.name in (Path(result.run_dir) / "train.log").read_text()


def test_interrupted_stage_resumes_from_its_last_epoch(tiny_data, tmp_path):
    from flowerstudio.core.training.trainer import resume

    token = CancelToken()

    def stop_after_first_epoch(event):
        if isinstance(event, EpochEnd):
            token.cancel()

    with pytest.raises(Cancelled) as stop:
        train(tiny_config(tiny_data, tmp_path, epochs=3, feature_cache=False), stop_after_first_epoch, token)
    first = stop.value.partial
    assert first.status == "cancelled" and len(first.history) == 1
    events = []
    result = resume(first.run_dir, events.append)
    assert result.status == "completed"
    assert [m.epoch for m in result.history] == [1, 2, 3] and {m.stage for m in result.history} == {"frozen"}
    assert any("Resuming at epoch 2: 2 epochs left" in getattr(e, "text", "") for e in events)


def test_fine_tuning_keeps_pretrained_batchnorm_statistics_by_default(trained_run, tiny_data, tmp_path):
    """Weights train, running statistics stay: the fix for the accuracy drop when unfreezing
    (trashnet, 128 px: validation 0.787 -> 0.668 with drifting statistics, 0.791 with frozen ones)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run.run_dir, run)
    before, _ = load_model(run / "best.safetensors")
    result = train(tiny_config(tiny_data, tmp_path, epochs=1, train_mode="all", lr=1e-3, resume_from=str(run)))
    after, _ = load_model(Path(result.run_dir) / "last.safetensors")
    b, a = before.backbone.state_dict(), after.backbone.state_dict()
    stats = [k for k in b if k.endswith(("running_mean", "running_var"))]
    weights = [k for k in b if k.endswith("weight")]
    assert stats and all(torch.equal(b[k], a[k]) for k in stats)
    assert any(not torch.equal(b[k], a[k]) for k in weights)


def test_the_default_frozen_stage_trains_the_head_30_epochs_and_cuts_the_rate_after_20(tiny_data, tmp_path):
    """The frozen stage's own schedule (config.HEAD_EPOCHS), from a config that leaves it open, as the
    GUI's first click and 'flowerstudio train DATA' do."""
    cfg = tiny_config(tiny_data, tmp_path, epochs=None, step_size=None, cache_views=1)
    result = train(cfg)
    rates = [m.lr for m in result.history]
    assert len(rates) == 30
    assert rates[:20] == [cfg.lr] * 20 and rates[20:] == [cfg.lr * 0.1] * 10
    saved = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert (saved["epochs"], saved["step_size"]) == (30, 20)  # the run says what it did


def test_a_run_without_its_split_is_not_continued_with_a_new_one(trained_run, tiny_data, tmp_path):
    """Fine-tuning or resuming a run whose split.json is gone would mix its validation photos into
    training: refused, naming the file."""
    import shutil

    from flowerstudio.core.training.trainer import resume

    run = Path(shutil.copytree(trained_run.run_dir, tmp_path / "runs" / "run"))
    (run / "split.json").unlink()
    cfg = tiny_config(tiny_data, run.parent, epochs=1, train_mode="all", lr=1e-4, resume_from=str(run))
    with pytest.raises(RunError, match="has no split.json"):
        train(cfg)
    with pytest.raises(RunError, match="has no split.json"):
        resume(run)
    assert not (run / "split.json").exists() and len(json.loads((run / "history.json").read_text())) == 6


def test_a_validation_photo_deleted_during_extraction_is_skipped_and_listed(tmp_path, monkeypatch):
    """The frozen stage skips a photo that vanishes while features are extracted, as the other stages do."""
    from imagefactory import make_dataset

    from flowerstudio.core.foundation.events import BadImage

    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=10, layout="flat")
    events = []

    def callback(event):
        events.append(event)
        if isinstance(event, PhaseStarted) and event.phase == "extract" and events.count(event) == 1:
            from flowerstudio.core.photos.scan import scan_dataset

            victim = scan_dataset(data).val[0].path
            if os.path.exists(victim):
                os.unlink(victim)

    result = train(tiny_config(data, tmp_path / "runs", epochs=2, cache_views=1), callback)
    assert result.status == "completed" and len(result.history) == 2
    bad = [e for e in events if isinstance(e, BadImage)]
    assert len(bad) == 1 and "not found" in bad[0].reason
    assert result.history[0].val_total == 3  # the other validation photos


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_a_stop_inside_a_step_ends_the_stage_before_that_batch_trains(tiny_data, tmp_path, monkeypatch, where):
    """Stop pressed while a batch is in the network (fine-tuning on a CPU: a second or more a batch) ends the
    stage at the next backbone stage the step reaches, forward or backward (stop_hooks.py): that batch's
    backward never finishes, the optimizer never steps on it, and the weights stay those of the batch before."""
    from flowerstudio.core.training.step import Step

    token = CancelToken()
    seen = {"started": 0, "finished": 0}
    real_call = Step.__call__

    def stop_in_the_middle(_module, _inputs, output):
        if where == "forward":
            token.cancel()  # the stages after this one must not run
        elif output.requires_grad:
            output.register_hook(lambda _grad: token.cancel())  # the backward reaches the middle, then stops

    def call(self, x, y):
        seen["started"] += 1
        if seen["started"] == 3:
            self.net.backbone.get_submodule("blocks.3").register_forward_hook(stop_in_the_middle)
        try:
            result = real_call(self, x, y)
        except Cancelled:
            seen["unchanged"] = all(torch.equal(p, seen["weights"][n]) for n, p in self.net.named_parameters())
            raise
        seen["finished"] += 1
        seen["weights"] = {n: p.detach().clone() for n, p in self.net.named_parameters()}
        return result

    monkeypatch.setattr(Step, "__call__", call)
    with pytest.raises(Cancelled) as stop:
        train(tiny_config(tiny_data, tmp_path, epochs=2, batch_size=4, train_mode="all", lr=1e-3), cancel=token)
    assert (seen["started"], seen["finished"]) == (3, 2)  # the third step ended inside the network
    assert seen["unchanged"]  # no optimizer step for the stopped batch
    assert stop.value.partial.status == "cancelled" and stop.value.partial.history == []


def test_every_stage_of_a_backbone_is_checked_and_only_in_one_process(tiny_data, tmp_path):
    """The hooks find every stage the catalogue names (a wrong name would silently leave a stage unchecked); under
    torchrun the check stays between batches, where all processes agree (fit._stop_inside)."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from flowerstudio.core.model.backbones import get_spec
    from flowerstudio.core.training.fit import _stop_inside
    from flowerstudio.core.training.sources import ImageSource
    from flowerstudio.core.training.stop_hooks import stage_modules

    for name in ("efficientnet_lite0", "resnet18"):
        model = build_classifier(name, 3, pretrained=False)
        assert len(stage_modules(model, name)) == sum(len(stage) for stage in get_spec(name).stages), name
    source = ImageSource.__new__(ImageSource)  # photos through the backbone: a step takes long on a CPU

    def setup(torchrun: bool):
        return SimpleNamespace(dist=SimpleNamespace(enabled=torchrun), model=model,
                               config=SimpleNamespace(backbone="resnet18"))

    assert isinstance(_stop_inside(setup(torchrun=True), source, CancelToken()), nullcontext)
    assert not isinstance(_stop_inside(setup(torchrun=False), source, CancelToken()), nullcontext)


def test_a_fine_tuning_stage_reads_each_photo_once_and_repeats_from_its_seed(tiny_data, tmp_path, monkeypatch):
    """Photos kept decoded between epochs (runtime/kept.py) and augmented by threads drawing one thread's random
    numbers (runtime/augment.py): three epochs open each photo once, and the same seed gives the same run."""
    import flowerstudio.core.runtime.loader as loader

    reads = []
    real = loader.load_image
    monkeypatch.setattr(loader, "load_image", lambda path, **kw: reads.append(path) or real(path, **kw))
    runs = [train(tiny_config(tiny_data, tmp_path / f"runs{k}", epochs=3, train_mode="last_stages",
                              unfreeze_stages=1)) for k in range(2)]
    assert all(r.status == "completed" for r in runs)
    assert reads and len(reads) == 2 * len(set(reads))  # two runs, each photo opened once in each
    assert len(runs[0].history) == 3
    losses = [[(m.train_loss, m.val_loss) for m in r.history] for r in runs]
    assert losses[0] == losses[1]
