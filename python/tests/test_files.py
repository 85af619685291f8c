"""Files from Python as from the CLI: no output onto an input, checkpoints that resume to the
same model, atomic outputs."""

import os

import pytest

import ppmf

from test_model import same_model

FAST = dict(rank=3, epochs=8, patience=0, device="cpu", quiet=True)


def test_outputs_never_overwrite_inputs(watch_data, tmp_path):
    d, ratings, ug, ig = watch_data
    data = tmp_path / "ratings.csv"
    data.write_bytes((d / "ratings.csv").read_bytes())
    before = data.read_bytes()
    with pytest.raises(ppmf.Error, match="out .*ratings.csv is the same file as data .*: refusing"):
        ppmf.Model.fit(data, out=data, **FAST)
    with pytest.raises(ppmf.Error, match="is the same file as user_groups"):
        ppmf.Model.fit(data, user_groups=d / "user_groups.csv",
                       metrics_json=str(d / "." / "user_groups.csv"), **FAST)
    with pytest.raises(ppmf.Error, match="out and metrics_json name the same file"):
        ppmf.Model.fit(ratings, out=tmp_path / "m", metrics_json=tmp_path / "m", **FAST)
    with pytest.raises(ppmf.Error, match="split_out/train.csv .* is the same file as data"):
        ppmf.Model.fit(_copy(data, tmp_path / "train.csv"), split_out=tmp_path, **FAST)
    assert data.read_bytes() == before
    # Replacing a model in place (the nightly warm start) is allowed.
    model = tmp_path / "m.ppmf"
    ppmf.Model.fit(ratings, out=model, **FAST)
    ppmf.Model.fit(ratings, warm_start=model, out=model, **FAST)
    assert ppmf.load(model).config["rank"] == 3
    with pytest.raises(ppmf.Error, match="is the same file as model"):
        ppmf.report(model, data, model)
    assert not [f for f in os.listdir(tmp_path) if ".tmp." in f]


def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def test_checkpoint_resumes_to_the_same_model(watch_data, tmp_path):
    d, ratings, ug, ig = watch_data
    whole = ppmf.Model.fit(ratings, user_groups=ug, **FAST)
    ckpt = tmp_path / "run.ckpt"

    class Stop(Exception):
        pass

    def stop_at_epoch_5(metrics):
        if metrics["epoch"] == 5:
            raise Stop()

    with pytest.raises(Stop):
        ppmf.Model.fit(ratings, user_groups=ug, checkpoint=ckpt, checkpoint_every=2,
                       callback=stop_at_epoch_5, **FAST)
    assert ckpt.exists()
    notes = []
    resumed = ppmf.Model.fit(ratings, user_groups=ug, resume=ckpt, callback=notes.append,
                             **FAST)
    same_model(whole, resumed)
    assert [m["epoch"] for m in notes][0] == 5, "continues after the checkpoint's epoch 4"
    with pytest.raises(ppmf.Error, match="cannot resume this run: the checkpoint's seed is 1"):
        ppmf.Model.fit(ratings, user_groups=ug, resume=ckpt, seed=2, **FAST)
    with pytest.raises(ppmf.ConfigError, match="checkpoint_every"):
        ppmf.Model.fit(ratings, checkpoint=ckpt, checkpoint_every=0, **FAST)
