"""The training settings form: what a newcomer decides in plain words, the rest under Advanced. It turns
its controls into a core TrainConfig (the first step) and, when the user overrides the core's advice,
a core StagePlan (the next step)."""
from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from flowerstudio.core.model.backbones import DEFAULT_BACKBONE
from flowerstudio.core.foundation.config import HEAD_EPOCHS, TrainConfig
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.training.plan import FINE_TUNE_EPOCHS, StagePlan
from flowerstudio.gui import engine, settings
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.pages.augment_options import AugmentOptions
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import rate_box, spin_box, with_button
from flowerstudio.gui.widgets.cache_row import CacheRow
from flowerstudio.gui.widgets.collapsible import Collapsible

AUTO = "auto"  # the next step the core plans from the result (core/training/plan.py), not a TrainMode
DEPTHS = [(AUTO, "As advised after each step"), (TrainMode.FROZEN.value, "Train the new layer more"),
          (TrainMode.LAST_STAGES.value, "Fine-tune the last parts of the network"),
          (TrainMode.ALL.value, "Fine-tune the whole network (slower)")]
_DEFAULTS = TrainConfig()
_log = logging.getLogger(__name__)  # its warnings reach the status bar (core/foundation/notify.py)


class TrainOptions(QWidget):
    """What a newcomer decides — which backbone, how long, how deep to fine-tune — and, under
    "Advanced", everything else: device, batch, learning rates, input size, folders, augmentation.

    Every choice is remembered in QSettings; augmentation changes are pushed
    to AppState so the Dataset page's preview follows them.
    """

    changed = Signal()

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.num_stages: dict[str, int] = {}
        self.overrides: dict = {}  # extra TrainConfig fields the form does not show (tests, experts)
        self._count_task: Optional[Job] = None
        self._engine_ready = False  # the parameter count needs torch: it waits for the start-up's import

        self.backbone = QComboBox()
        self._fill_backbones()
        self.epochs = spin_box(1, 500, settings.get("train/head_epochs", HEAD_EPOCHS, int))
        self.epochs.setSuffix(" rounds")
        self.epochs.setToolTip("Rounds through the training photos in the first step (epochs). The new layer "
                               "trains in seconds: 30 rounds is the default.")
        self.depth = QComboBox()
        for key, title in DEPTHS:
            self.depth.addItem(title, key)
        self.depth.setCurrentIndex(max(0, self.depth.findData(settings.get("train/depth", AUTO, str))))
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        basic = QGroupBox("Training")
        form = QFormLayout(basic)
        form.addRow("Model:", self.backbone)
        form.addRow("First step:", self.epochs)
        form.addRow("Next step:", self.depth)
        form.addRow(self.hint)

        self.device = QComboBox()
        self.device.addItem("Automatic (GPU if present)", "auto")
        self.device.addItem("CPU", "cpu")
        self.batch = spin_box(1, 1024, settings.get("train/batch_size", _DEFAULTS.batch_size, int))
        self.lr = rate_box(settings.get("train/lr", _DEFAULTS.lr, float))
        self.lr_find_btn = QPushButton("Find…")
        self.lr_find_btn.setToolTip("Find learning rate: a short test run suggests a good value")
        self.input_size = spin_box(32, 1024, settings.get("train/input_size", _DEFAULTS.input_size, int), 32)
        self.input_size.setSuffix(" px")
        self.output_dir = QLineEdit(settings.get("train/output_dir", "", str))
        self.output_dir.setPlaceholderText("default: your user data folder")
        self.output_dir.setMinimumWidth(80)
        browse = QPushButton("…")
        browse.setFixedWidth(30)
        browse.clicked.connect(self._choose_output)
        self.cache = CacheRow()
        self.stages = spin_box(1, 9, settings.get("train/unfreeze_stages", _DEFAULTS.unfreeze_stages, int))
        self.ft_lr = rate_box(settings.get("train/ft_lr", _DEFAULTS.lr * 0.1, float))
        self.ft_lr_find_btn = QPushButton("Find…")
        self.ft_lr_find_btn.setToolTip("Find learning rate for fine-tuning: a short test run from the best model "
                                       "of the latest run")
        self.ft_epochs = spin_box(1, 500, settings.get("train/ft_epochs", FINE_TUNE_EPOCHS, int))
        self.ft_epochs.setSuffix(" rounds")
        self.keep_bn = QCheckBox("Keep BatchNorm statistics (recommended)")
        self.keep_bn.setChecked(settings.get("train/freeze_bn_stats", _DEFAULTS.freeze_bn_stats, bool))
        self.keep_bn.setToolTip("Keeps the backbone's pretrained BatchNorm statistics while fine-tuning;\n"
                                "switching this off often costs accuracy on small datasets.")
        self.params = QLabel("Trainable parameters: counting…")
        self.params.setWordWrap(True)
        self.advanced = Collapsible("Advanced", "train/advanced_open")
        adv = QFormLayout()
        adv.addRow("Device:", self.device)
        adv.addRow("Batch size:", self.batch)
        adv.addRow("Learning rate:", with_button(self.lr, self.lr_find_btn))
        adv.addRow("Input size:", self.input_size)
        adv.addRow("Save runs in:", with_button(self.output_dir, browse))
        adv.addRow(self.cache)
        adv.addRow(QLabel("<b>Next step, when not as advised</b>"))
        adv.addRow("Parts to fine-tune:", self.stages)
        adv.addRow("Learning rate:", with_button(self.ft_lr, self.ft_lr_find_btn))
        adv.addRow("Rounds:", self.ft_epochs)
        adv.addRow(self.keep_bn)
        adv.addRow(self.params)
        self.advanced.body_layout.addLayout(adv)
        self.aug = AugmentOptions()
        self.preview_btn = self.aug.preview_btn
        self.advanced.body_layout.addWidget(self.aug)

        # Long backbone and GPU names must not widen the form past its scroll area.
        for combo in (self.backbone, self.device, self.depth):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(basic)
        lay.addWidget(self.advanced)
        lay.addStretch(1)

        self.aug.changed.connect(self._on_augment)
        self.input_size.valueChanged.connect(self._on_augment)
        self.backbone.currentIndexChanged.connect(self._on_augment)
        self._count_timer = QTimer(self, singleShot=True, interval=300)
        self.advanced.toggle.toggled.connect(lambda opened: opened and self._count_timer.start())
        self._count_timer.timeout.connect(self._count)
        for sig in (self.depth.currentIndexChanged, self.stages.valueChanged, self.backbone.currentIndexChanged):
            sig.connect(self.update_depth)
        state.scan_changed.connect(lambda _s: self.update_depth())
        # The runs folder is app state: Predict's "Use latest run" and the Check page look there too.
        self.output_dir.textChanged.connect(lambda text: state.set_runs_dir(text.strip()))
        state.set_runs_dir(self.output_dir.text().strip())
        state.devices_changed.connect(self._show_device)  # what was found, and why not a GPU when the check failed
        self._on_augment()  # the pages share the chosen backbone and size from the start
        if not engine.gpu_driver_present():
            state.set_devices([("cpu", "CPU")])  # known from the first paint: the status bar can say it at once
        QTimer.singleShot(0, self.load_devices)
        self.update_depth()

    # -- catalog ----------------------------------------------------------------------------
    def _fill_backbones(self) -> None:
        """The backbone list, straight from the core's catalogue: plain data, no torch, fine on the GUI thread."""
        from flowerstudio.core.model.backbones import BACKBONES, weights_available_offline

        want = settings.get("train/backbone", _DEFAULTS.backbone, str)
        self.backbone.blockSignals(True)
        self.backbone.clear()
        for name, title, stages in ((b.name, b.title, b.num_stages) for b in BACKBONES.values()):
            offline = weights_available_offline(name)
            self.num_stages[name] = stages
            mark = ("" if "offline" in title else " · ready offline") if offline else " · downloads once"
            self.backbone.addItem(title + mark, name)
            self.backbone.setItemData(self.backbone.count() - 1,
                                      "Pretrained weights are on this computer" if offline else
                                      "Pretrained weights are downloaded on first use (internet needed once)",
                                      Qt.ItemDataRole.ToolTipRole)
        index = self.backbone.findData(want)
        self.backbone.setCurrentIndex(index if index >= 0 else max(0, self.backbone.findData(DEFAULT_BACKBONE)))
        self.backbone.blockSignals(False)
        self.backbone.view().setMinimumWidth(self.backbone.view().sizeHintForColumn(0) + 30)

    def load_devices(self) -> None:
        """Without a GPU driver the device is the CPU, said at once; else torch looks for GPUs in the background.
        Either way torch then loads in the background, once (engine.import_heavy), and the parameter count
        waits for it: start-up's jobs do not fight over the two cores."""
        if not self.state.devices_known:
            run_job(engine.devices, title="Looking for GPUs", owner=self, on_result=self._on_devices,
                    on_error=self._on_device_error, on_done=self._on_engine)
            return
        self.state.set_devices(self.state.devices)  # said again, for whoever listens now (the status bar)
        run_job(engine.import_heavy, title="Loading the training engine", owner=self, on_done=self._on_engine)

    def _on_device_error(self, message: str, _details: str) -> None:  # said in the status bar, not hidden
        _log.warning("Could not look for a GPU (%s): training uses the CPU.", message)
        self.state.set_devices([("cpu", "CPU")], problem=message)

    def _on_engine(self) -> None:
        self._engine_ready = True
        self.state.set_engine_loaded()
        self._count_timer.start()

    def _on_devices(self, devices) -> None:
        want_dev = settings.get("train/device", "auto", str)
        for dev, name in devices:
            if dev != "cpu" and self.device.findData(dev) < 0:
                self.device.addItem(f"GPU: {name}", dev)
        self.device.setCurrentIndex(max(0, self.device.findData(want_dev)))
        self.state.set_devices(devices)

    def _show_device(self) -> None:
        self.device.setToolTip(self.state.device_text() + (f": {self.state.device_problem}"
                                                           if self.state.device_problem else ""))

    # -- reading the form ---------------------------------------------------------------
    def config(self, data_dir: str) -> TrainConfig:
        """The first step's TrainConfig: a new run, the new layer on the frozen network."""
        cfg = TrainConfig(
            data_dir=data_dir, backbone=self.backbone.currentData() or _DEFAULTS.backbone,
            input_size=self.input_size.value(), train_mode=TrainMode.FROZEN, epochs=self.epochs.value(),
            batch_size=self.batch.value(), lr=self.lr.value(), device=self.device_choice(),
            output_dir=self.output_dir.text().strip(), augment=self.aug.augment(),
            freeze_bn_stats=self.keep_bn.isChecked(),
        )
        for key, value in self.overrides.items():
            setattr(cfg, key, value)
        self.save()
        return cfg.validate()

    def device_choice(self) -> str:
        return self.device.currentData() or "auto"

    def manual_plan(self) -> Optional[StagePlan]:
        """The next step the user chose under Advanced, or None: the core's advice decides."""
        if self.follows_advice():
            return None
        mode = TrainMode(self.depth.currentData())
        lr = self.lr.value() if mode == TrainMode.FROZEN else self.ft_lr.value()
        return StagePlan(mode, self.stages.value(), self.ft_epochs.value(), lr)

    def follows_advice(self) -> bool:
        return self.depth.currentData() == AUTO

    def show_next(self, plan: Optional[StagePlan], advice) -> None:
        """The hint under "Next step": what the second button will run, in words."""
        if plan is not None:
            self.hint.setText(f"The next step will {plan.words()}" + ("." if self.follows_advice()
                                                                       else ", as chosen here."))
        elif advice is not None:
            self.hint.setText("After this result, training more is unlikely to help: see the advice.")
        else:
            per_class = round(self.state.scan.photos_per_class()) if self.state.has_dataset() else 0
            why = f"With about {per_class} training photos per class, after" if per_class else "After"
            self.hint.setText(f"{why} the first step Flower Studio suggests the next one from the result, with "
                              "how long it would take.")

    def save(self) -> None:
        for key, value in [("head_epochs", self.epochs.value()), ("batch_size", self.batch.value()),
                           ("lr", self.lr.value()), ("input_size", self.input_size.value()),
                           ("backbone", self.backbone.currentData()), ("device", self.device.currentData()),
                           ("depth", self.depth.currentData()), ("unfreeze_stages", self.stages.value()),
                           ("ft_lr", self.ft_lr.value()), ("ft_epochs", self.ft_epochs.value()),
                           ("freeze_bn_stats", self.keep_bn.isChecked()),
                           ("output_dir", self.output_dir.text().strip())]:
            settings.put(f"train/{key}", value)
        self.aug.save()

    # -- reactions --------------------------------------------------------------------------
    def _choose_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for training runs", self.output_dir.text())
        if path:
            self.output_dir.setText(path)

    def _on_augment(self) -> None:
        self.state.set_augment(self.aug.augment(), self.input_size.value(),
                               self.backbone.currentData() or _DEFAULTS.backbone)
        self.changed.emit()

    def update_depth(self) -> None:
        name = self.backbone.currentData() or _DEFAULTS.backbone
        if name in self.num_stages:
            self.stages.setMaximum(self.num_stages[name])
        self.stages.setEnabled(self.depth.currentData() == TrainMode.LAST_STAGES)
        self.params.setText("Trainable parameters: counting…")
        self._count_timer.start()
        self.changed.emit()  # the Train page shows what the next step will run (show_next)

    def _count(self) -> None:
        """Counted when it can be seen (Advanced open), once torch has loaded: building a network to count it
        takes seconds at start-up that loading the model in use needs more."""
        if self._count_task is not None and self._count_task.running:
            self._count_timer.start()
            return
        if not self._engine_ready:
            return  # _on_engine counts
        if not self.advanced.toggle.isChecked():
            self.params.setText("Trainable parameters: –")  # counted when Advanced opens
            return
        scan = self.state.scan
        n = len(scan.classes) if scan is not None and scan.classes else 10
        name = self.backbone.currentData() or _DEFAULTS.backbone
        plan = self.manual_plan()
        mode, stages = (plan.mode, plan.stages) if plan is not None else (TrainMode.ALL, self.stages.value())
        self._count_task = run_job(engine.count_params, name, n, mode, stages,
                                   title="Counting parameters", owner=self, on_result=self._on_counted,
                                   on_error=lambda _m, _d: self.params.setText("Trainable parameters: unknown"))

    def _on_counted(self, result) -> None:
        trainable, total = result
        self.params.setText(f"Trainable parameters: <b>{trainable:,}</b> of {total:,} "
                            f"({100.0 * trainable / max(total, 1):.1f}%)")

