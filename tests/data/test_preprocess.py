from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tfqa.data.preprocess import Preprocessor, fit_modality, fit_preprocessor
from tfqa.data.synthetic import SMALL_DIMS, THESIS_DIMS, make_synthetic


def _data(n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 5
    x[rng.random(x.shape) < 0.05] = np.nan
    return x.astype(np.float32)


def test_matches_the_sklearn_pipeline():
    x, y = _data(), _data(seed=1)
    t, note = fit_modality(x, 5)
    ref = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), PCA(5, random_state=0)
    ).fit(x)
    assert note is None
    got, want = t.transform(y), ref.transform(y)
    # PCA components are defined up to sign
    signs = np.sign((got * want).sum(0))
    np.testing.assert_allclose(got * signs, want, atol=1e-4)
    np.testing.assert_allclose(
        t.explained_variance_ratio, ref[-1].explained_variance_ratio_, rtol=1e-5
    )


def test_n_components_is_capped_with_a_note():
    t, note = fit_modality(_data(n=8, d=12), 100)
    assert t.out_dim == 8 and "8 components instead of 100" in note
    t, note = fit_modality(_data(n=300, d=12), 100)
    assert t.out_dim == 12 and "12 components instead of 100" in note
    t, _ = fit_modality(_data(), None)
    assert t.components is None and t.out_dim == 12


def test_fitted_on_the_given_clips_only_and_roundtrips():
    train = make_synthetic(20, 40, seed=0)
    pre = fit_preprocessor(train.clips, {"visual": 5, "audio": 4}, max_fit_frames=10_000)
    frames = np.concatenate([c["audio"] for c in train.clips])
    np.testing.assert_allclose(pre.transforms["audio"].mean, frames.mean(0), rtol=1e-4, atol=1e-5)
    assert pre.dims["visual"] == 5 and pre.dims["audio"] == 4
    assert pre.dims["sync"] == train.contract["dims"]["sync"] + 1  # + the face mask column
    out = pre.transform(train.clips[0])
    assert not any(np.isnan(v).any() for v in out.values())
    again = Preprocessor.from_state(pre.state())
    for k, v in again.transform(train.clips[0]).items():
        np.testing.assert_array_equal(v, out[k])


@pytest.mark.parametrize("shift", [0, 4, 8, 12])
def test_a_restored_transform_is_bit_identical_wherever_its_state_sits_in_memory(shift):
    """OpenBLAS's AVX-512 kernels round a product differently with the operand's alignment; a
    resumed run must see exactly the projections of the run that fitted the transform."""
    train = make_synthetic(20, 40, {**SMALL_DIMS, "keypoints": 300}, seed=0)
    pre = fit_preprocessor(train.clips, {"keypoints": 50}, max_fit_frames=10_000)

    def misplaced(v):  # the same values, starting ``shift`` floats past a 64-byte boundary
        v = np.asarray(v, dtype=np.float32)
        buf = np.empty(v.size + 32, np.float32)
        start = (-buf.ctypes.data // 4) % 16 + shift
        out = buf[start : start + v.size].reshape(v.shape)
        out[...] = v
        return out

    state = pre.state()
    state["transforms"] = {
        k: {n: misplaced(v) for n, v in t.items()} for k, t in state["transforms"].items()
    }
    again = Preprocessor.from_state(state)
    assert again.transforms["keypoints"].components.ctypes.data % 64 == 0
    for clip in train.clips[:5]:
        np.testing.assert_array_equal(
            again.transform(clip)["keypoints"], pre.transform(clip)["keypoints"]
        )


def test_thesis_dims_reduce_to_367():
    data = make_synthetic(6, 60, THESIS_DIMS, seed=0)
    logs = []
    pre = fit_preprocessor(
        data.clips, {"visual": 100, "audio": 200, "keypoints": 50, "au": 17}, log=logs.append
    )
    dims = pre.dims
    assert [dims[k] for k in ("visual", "audio", "keypoints", "au")] == [100, 200, 50, 17]
    assert sum(dims[k] for k in ("visual", "audio", "keypoints", "au")) == 367
    assert any("explained variance" in m for m in logs)
    summary = pre.summary()
    assert 0 < summary["visual"]["explained_variance"] <= 1 + 1e-6
    assert summary["visual"]["in_dim"] == 2048


def test_without_pca_keeps_dims():
    data = make_synthetic(4, 30, seed=0)
    pre = fit_preprocessor(data.clips, {"visual": 5}, use_pca=False)
    assert pre.dims["visual"] == data.contract["dims"]["visual"]


@pytest.mark.parametrize("whiten", [False, True])
def test_whitening_gives_unit_variance(whiten):
    t, _ = fit_modality(_data(n=2000), 4, whiten=whiten)
    var = t.transform(_data(n=2000)).var(0)
    assert (np.allclose(var, 1, atol=0.15)) == whiten


def test_centre_clip_removes_each_columns_mean_over_finite_frames():
    from tfqa.data.preprocess import centre_clip

    x = np.array([[1.0, 10.0, np.nan], [3.0, np.nan, np.nan], [5.0, 20.0, np.nan]], np.float32)
    got = centre_clip(x)
    np.testing.assert_allclose(got[:, 0], [-2.0, 0.0, 2.0])
    np.testing.assert_allclose(got[[0, 2], 1], [-5.0, 5.0])
    assert np.isnan(got[1, 1]) and np.isnan(got[:, 2]).all()  # gaps stay gaps for imputation


def test_centred_keypoints_ignore_the_face_shape_and_roundtrip():
    clips = make_synthetic(8, 50, seed=0).clips
    # the same clip seen on two faces: every landmark coordinate moved by a per-person constant
    other = dict(clips[0])
    other["keypoints"] = clips[0]["keypoints"] + np.linspace(-1, 1, clips[0]["keypoints"].shape[1])
    pca = {"keypoints": 6}
    plain = fit_preprocessor(clips, pca, centre=())
    centred = fit_preprocessor(clips, pca, centre=("keypoints",))
    a, b = centred.transform(clips[0]), centred.transform(other)
    np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=1e-4)
    assert not np.allclose(
        plain.transform(clips[0])["keypoints"], plain.transform(other)["keypoints"], atol=1e-2
    )
    np.testing.assert_allclose(a["audio"], b["audio"])  # other modalities untouched
    back = Preprocessor.from_state(centred.state())  # the flag travels in checkpoints
    np.testing.assert_allclose(back.transform(other)["keypoints"], b["keypoints"], atol=1e-6)
    old = Preprocessor.from_state(plain.state())  # states without the flag: not centred
    assert not old.transforms["keypoints"].centred
