"""Every photo's features for the doctor come from the training feature cache, by part."""
from flowerstudio.core.doctor.photo_features import photo_features
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.vocab import Part
from flowerstudio.core.photos.scan import scan_dataset


def test_features_of_every_part_unit_length_and_unreadable_photos_listed(tiny_data):
    scan = scan_dataset(tiny_data)
    feats = photo_features(scan, TrainConfig(data_dir=str(tiny_data), input_size=64))
    assert len(feats.paths) == len(scan.train) + len(scan.val) + len(scan.test)
    assert set(feats.parts) == {Part.TRAIN, Part.VAL, Part.TEST}
    assert abs(float((feats.features ** 2).sum(1).mean()) - 1.0) < 1e-4
    assert {p for p, _ in feats.unreadable} == {p for p, _ in scan.unreadable}
