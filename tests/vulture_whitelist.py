"""Names vulture cannot see used: Qt and PyTorch call these overrides by name; dataclass fields are data."""
from flowerstudio.core.model.model_file import ModelInfo
from flowerstudio.gui.main_window import MainWindow
from flowerstudio.gui.widgets.confusion_view import RotatedHeader
from flowerstudio.gui.widgets.gallery_model import GalleryFilter
from flowerstudio.gui.pages.predict_review import ReviewBar
from flowerstudio.gui.pages.review import ReviewPage
from flowerstudio.gui.widgets.gallery_view import ThumbnailDelegate
from flowerstudio.gui.widgets.curves import RateAxis

MainWindow.dragEnterEvent, MainWindow.dropEvent, MainWindow.closeEvent  # Qt event handlers
ReviewBar.eventFilter, ReviewPage.eventFilter  # Qt calls them for the galleries' key presses
GalleryFilter.filterAcceptsRow, GalleryFilter.lessThan  # QSortFilterProxyModel overrides
ThumbnailDelegate.paint, RotatedHeader.paintSection  # painting overrides
RateAxis.logTickValues, RateAxis.logTickStrings  # pyqtgraph AxisItem overrides
ModelInfo.app_version, ModelInfo.torch_version, ModelInfo.format_version  # written into every model file
from flowerstudio.core.model.calibration import TemperatureFit

TemperatureFit.nll_before, TemperatureFit.nll_after  # a fit's result, read by the calibration benchmark
_.forward  # nn.Module.forward, called through __call__
_.source_parent  # Qt override signature
_isolated_user_dirs, _gui_thread_collector, qapp, _own_cache  # pytest fixtures, requested by name
from flowerstudio.core.foundation.vocab import Device, ExportFormat, LogLevel

LogLevel.ERROR, Device.CPU, ExportFormat.TORCHSCRIPT  # enum members: parsed from words, not named in code
_.me  # tests: a Python reference cycle made on purpose
pytestmark  # pytest reads a module's marks by this name
_.intra_op_num_threads, _.inter_op_num_threads  # onnxruntime.SessionOptions fields, read by onnxruntime
_.momentum  # BatchNorm's field, read by torch (None: running statistics are a plain average)
