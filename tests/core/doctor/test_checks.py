"""The doctor's three checks on features made by hand: duplicates (and leaks), label issues, outliers."""
import numpy as np
from imagefactory import draw_image

from flowerstudio.core.doctor.duplicates import find_duplicates
from flowerstudio.core.doctor.label_issues import find_label_issues
from flowerstudio.core.doctor.neighbours import nearest_neighbours
from flowerstudio.core.doctor.outliers import OUTLIER_Z, class_centres, outlier_scores, robust_z
from flowerstudio.core.doctor.photo_features import PhotoFeatures
from flowerstudio.core.foundation.vocab import DuplicateKind, Part


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_an_exact_copy_across_train_and_validation_is_a_leak(tmp_path):
    paths = []
    for i in range(6):
        path = tmp_path / f"p{i}.jpg"
        draw_image(i % 2, i).save(path)
        paths.append(str(path))
    draw_image(0, 0).save(tmp_path / "copy.jpg")  # the same picture as p0
    paths.append(str(tmp_path / "copy.jpg"))
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(7, 16)))
    x[6] = x[0]
    parts = [Part.TRAIN] * 6 + [Part.VAL]
    idx, sim = nearest_neighbours(x, 3)
    found = find_duplicates(paths, parts, idx, sim)
    assert len(found) == 1 and found[0].kind == DuplicateKind.EXACT and found[0].leak
    assert {found[0].path_a, found[0].path_b} == {paths[0], paths[6]}


def test_a_photo_in_the_wrong_folder_tops_the_label_issues():
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(3, 32))) * 4
    labels = np.repeat(np.arange(3), 20)
    x = _unit(centres[labels] + rng.normal(scale=0.4, size=(60, 32)))
    wrong = 5  # a photo of class 0 filed under class 2
    labels = labels.copy()
    labels[wrong] = 2
    feats = PhotoFeatures([f"p{i}" for i in range(60)], labels, [Part.TRAIN] * 60, x)
    idx, sim = nearest_neighbours(x, 10)
    issues, accuracy, notes = find_label_issues(feats, ["a", "b", "c"], idx, sim)
    assert issues and issues[0].path == "p5" and issues[0].given == "c" and issues[0].suggested == "a"
    assert accuracy > 0.9 and notes == []


def test_a_photo_far_from_every_class_is_an_outlier():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(2), 15)
    base = _unit(rng.normal(size=(2, 24))) * 5
    x = _unit(base[labels] + rng.normal(scale=0.3, size=(30, 24)))
    x[29] = _unit(rng.normal(size=(1, 24)))[0]  # a blank frame among the photos
    _, sim = nearest_neighbours(x, 5)
    score, _near, _to_class = outlier_scores(x, class_centres(x, labels, 2), sim)
    assert int(np.argmin(score)) == 29 and score[29] <= OUTLIER_Z
    assert np.allclose(robust_z(np.array([1.0, 1.0, 1.0])), 0.0)
