"""The Python API: training from every input form, serving, the posterior, errors, defaults."""

import inspect

import numpy as np
import pandas as pd
import pytest

import ppmf

FAST = dict(rank=4, epochs=6, device="cpu", quiet=True)


@pytest.fixture(scope="module")
def model(watch_data):
    d, ratings, ug, ig = watch_data
    return ppmf.Model.fit(ratings, user_groups=ug, item_groups=ig, transform="log1p", **FAST)


def same_model(a, b):
    for side in ("users", "items"):
        pa, pb = a.posterior(side), b.posterior(side)
        assert list(pa["ids"]) == list(pb["ids"])
        np.testing.assert_array_equal(pa["mean"], pb["mean"])
        np.testing.assert_array_equal(pa["bias"], pb["bias"])
    assert a.sigma == b.sigma


def test_every_input_form_trains_the_same_model(watch_data, model):
    d, ratings, ug, ig = watch_data
    kw = dict(transform="log1p", **FAST)
    from_path = ppmf.Model.fit(d / "ratings.csv", user_groups=d / "user_groups.csv",
                               item_groups=d / "item_groups.csv", **kw)
    from_arrays = ppmf.Model.fit(ratings["user"].to_numpy(), list(ratings["item"]),
                                 ratings["value"], user_groups=pd.Series(ug),
                                 item_groups=pd.DataFrame(list(ig.items())), **kw)
    renamed = ratings.rename(columns={"user": "viewer", "item": "video", "value": "minutes"})
    from_named = ppmf.Model.fit(renamed, user="viewer", item="video", value="minutes",
                                user_groups=ug, item_groups=ig, **kw)
    for other in (from_path, from_arrays, from_named):
        same_model(model, other)


def test_integer_ids_are_the_strings_the_cli_reads():
    users = np.array([10, 11, 10, 12, 11, 13] * 5)
    items = np.array([1, 2, 3, 1, 3, 2] * 5) + np.repeat(np.arange(5), 6) * 10
    values = np.linspace(1, 5, 30)
    m = ppmf.Model.fit(users, items, values, **FAST)
    assert list(m.posterior()["ids"]) == ["10", "11", "12", "13"]
    mean_int, _ = m.predict([10], [1])
    mean_str, _ = m.predict(["10"], ["1"])
    assert mean_int == mean_str
    with pytest.raises(ValueError, match="non-integral"):
        ppmf.Model.fit(users + 0.5, items, values, **FAST)
    with pytest.raises(ppmf.Error, match="given in two forms"):
        ppmf.Model.fit(np.array([42, "42", "a"], dtype=object), ["x", "y", "x"], [1, 2, 3], **FAST)


def test_ids_number_the_same_without_pandas(monkeypatch):
    from ppmf import _data
    ids = np.array(["b", "a", "b", "c", "a", "d"], dtype=object)
    ints = np.array([7, 3, 7, 1, 3, 9])
    with_pandas = [_data.factorize(x, "ids") for x in (ids, ints)]
    monkeypatch.setattr(_data, "pd", None)
    without = [_data.factorize(x, "ids") for x in (ids, ints)]
    for (c1, n1), (c2, n2) in zip(with_pandas, without):
        np.testing.assert_array_equal(c1, c2)
        assert n1 == n2
    assert with_pandas[0][1] == ["b", "a", "c", "d"] and with_pandas[1][1] == ["7", "3", "1", "9"]


def test_predict_handles_unknown_ids_as_the_cli_does(model, watch_data):
    d, ratings, ug, ig = watch_data
    known_user, known_item = ratings["user"][0], ratings["item"][0]
    mean, sd, source = model.predict([known_user, "stranger", known_user],
                                     [known_item, known_item, "new-video"], return_source=True)
    assert list(source) == ["trained", "population", "population"]
    assert np.all(np.isfinite(mean)) and np.all(sd > 0)
    grouped = model.predict(["stranger"], [known_item], user_groups={"stranger": "c01"},
                            return_source=True)
    assert grouped[2][0] == "group"
    m_model, sd_model = model.predict([known_user], [known_item], scale="model")
    m_orig, _ = model.predict([known_user], [known_item])
    assert m_orig[0] > np.expm1(m_model[0])  # log-normal mean > exp of the log mean
    pairs = pd.DataFrame({"user": [known_user], "item": [known_item]})
    assert model.predict(pairs)[0][0] == m_orig[0]


def test_fold_in_then_recommend_for_a_new_user(model, watch_data):
    d, ratings, ug, ig = watch_data
    views = ratings["item"].value_counts().index[:2]
    newcomer = model.fold_in(("newcomer", list(views), [30.0, 4.0]), user_groups={"newcomer": "c02"})
    assert newcomer.fold_in_report == {"added": 1, "updated": 0, "entries_used": 2,
                                       "entries_unknown_item": 0}
    assert "newcomer" not in list(model.posterior()["ids"]), "fold_in returns a new model"
    top = newcomer.recommend("newcomer", k=5)
    assert list(top.columns) == ["user", "rank", "item", "score", "mean", "sd", "watch",
                                 "watch_sd"]
    np.testing.assert_array_equal(top["score"], top["watch"].astype(np.float32))  # auto: watch
    assert list(top["rank"]) == [1, 2, 3, 4, 5]
    assert not set(views) & set(top["item"]), "seen items are excluded"
    assert np.all(np.diff(top["score"]) <= 0)
    # The same list on the fly, from the history, without keeping the folded model.
    on_the_fly = model.recommend("newcomer", k=5, user_groups={"newcomer": "c02"},
                                 history=("newcomer", list(views), [30.0, 4.0]))
    assert list(on_the_fly["item"]) == list(top["item"])
    thompson = [model.recommend(["a", "b"], k=5, explore="thompson", seed=s, as_frame=False)
                for s in (3, 3, 4)]
    assert list(thompson[0]["item"]) == list(thompson[1]["item"])
    assert not np.array_equal(thompson[0]["score"], thompson[2]["score"])


def test_evaluate_has_the_cli_json_fields(model, watch_data):
    d, ratings, ug, ig = watch_data
    r = model.evaluate(ratings.iloc[::7], k=5, relevant=10.0)
    assert set(r) == {"overall", "by_user_history", "ranking", "objective", "most_popular",
                      "ranking_by_user_history"}
    assert r["objective"] == "watch"
    assert r["overall"]["n"] == len(ratings.iloc[::7])
    assert sum(b["n"] for b in r["by_user_history"].values()) == r["overall"]["n"]
    assert r["ranking"]["k"] == 5 and r["ranking"]["users"] > 0
    by = r["ranking_by_user_history"]
    assert set(by) == set(r["by_user_history"])
    assert sum(b["model"]["users"] for b in by.values()) == r["ranking"]["users"]
    assert all(b["most_popular"]["users"] == b["model"]["users"] for b in by.values())


def test_posterior_and_priors_as_arrays(model):
    users = model.posterior("users")
    n, d = users["mean"].shape
    assert d == 4 and n == len(users["ids"]) == len(users["group"]) == len(users["count"])
    assert np.all(users["sd"] > 0) and np.all(users["bias_sd"] > 0)
    assert set(users["group"]) <= {"c00", "c01", "c02", "c03", "c04", "c05", "default"}
    prior = model.prior("items")
    G = len(prior["groups"])
    assert prior["mean"].shape == (G, 5) and prior["cov"].shape == (G, 5, 5)
    np.testing.assert_allclose(prior["cov"], np.transpose(prior["cov"], (0, 2, 1)))
    assert np.all(np.linalg.eigvalsh(prior["cov"].astype(np.float64)) > 0)
    h = model.history
    assert len(h) == model.report["epochs_run"] and "valid_nll" in h
    assert model.report["kept_epoch"] == model.kept_epoch
    assert model.sigma > 0 and model.config["transform"] == "log1p"
    frame = model.to_frame("items")
    assert list(frame.columns[:5]) == ["id", "group", "count", "bias", "bias_sd"]


def test_save_and_load_round_trip(model, tmp_path):
    model.save(tmp_path / "m.ppmf")
    loaded = ppmf.load(tmp_path / "m.ppmf", device="cpu")
    same_model(model, loaded)
    assert loaded.report is None and len(loaded.history) == len(model.history)
    (tmp_path / "bad.ppmf").write_bytes(b"not a model")
    with pytest.raises(ppmf.Error, match="bad.ppmf"):
        ppmf.load(tmp_path / "bad.ppmf")


def test_bad_settings_name_the_keyword(watch_data):
    d, ratings, ug, ig = watch_data
    for kw, field in ((dict(rank=5000), "rank"), (dict(prec_a0=0.1), "prec_a0"),
                      (dict(valid_frac=2.0), "valid_frac"), (dict(transform="log"), "transform"),
                      (dict(device="gpu7"), "device"), (dict(threads=-1), "threads"),
                      (dict(duplicates="max"), "duplicates")):
        with pytest.raises(ppmf.ConfigError) as e:
            ppmf.Model.fit(ratings, **{**FAST, **kw})
        assert e.value.field == field and str(e.value).startswith(field + ": ")
    assert issubclass(ppmf.ConfigError, ValueError)
    with pytest.raises(ppmf.Error, match="entry 3 repeats entry 0"):
        ppmf.Model.fit(["a", "b", "c", "a"], ["x", "x", "y", "x"], [1, 2, 3, 4], **FAST)
    merged = ppmf.Model.fit(["a", "b", "c", "a"], ["x", "x", "y", "x"], [1, 2, 3, 4],
                            duplicates="mean", **FAST)
    assert merged._m.n_train == 3
    with pytest.raises(ppmf.Error, match="not a number"):
        ppmf.Model.fit(["a", "b"], ["x", "y"], [1.0, float("nan")], **FAST)
    with pytest.raises(ValueError, match="no column 'value'"):
        ppmf.Model.fit(ratings[["user", "item"]], **FAST)


def test_keyword_defaults_are_the_librarys():
    lib = ppmf.defaults()
    for fn in (ppmf.Model.fit, ppmf.given_n):
        params = inspect.signature(fn).parameters
        for name, value in lib.items():
            if name in params:
                got = params[name].default
                if isinstance(value, float):
                    assert np.float32(got) == np.float32(value), (fn.__name__, name)
                else:
                    assert got == value, (fn.__name__, name)
    fit = inspect.signature(ppmf.Model.fit).parameters
    assert all(k in fit for k in ("rank", "transform", "pool", "tau", "prec_a0", "prec_b0",
                                  "init_sd", "epochs", "valid_frac", "refit", "patience",
                                  "min_improvement", "seed"))
    rec = inspect.signature(ppmf.Model.recommend).parameters
    assert rec["k"].default == lib["k"] and rec["ucb_beta"].default == lib["ucb_beta"]
    assert inspect.signature(ppmf.Model.evaluate).parameters["k"].default == lib["eval_k"]
    gn = inspect.signature(ppmf.given_n).parameters
    assert tuple(gn["n"].default) == lib["n"] and gn["holdout_users"].default == lib["holdout_users"]


def test_gpus_come_through_the_clis_plugin():
    gpus, why = ppmf.list_gpus()
    # Without a GPU the reason is the driver's or the build's, never a plugin that fails to load.
    assert gpus or "cannot load the CUDA plugin" not in why, why
    assert all({"index", "name", "total_bytes", "compute_capability"} <= set(g) for g in gpus)


def test_callback_sees_every_epoch(watch_data):
    d, ratings, ug, ig = watch_data
    seen = []
    m = ppmf.Model.fit(ratings, callback=seen.append, **FAST)
    assert [e["epoch"] for e in seen] == list(range(1, len(m.history) + 1))
    assert seen[0]["valid_nll"] is not None


def test_given_n_protocol(watch_data):
    d, ratings, ug, ig = watch_data
    r = ppmf.given_n(ratings, n=(0, 2), holdout_users=0.3, user_groups=ug, item_groups=ig,
                     transform="log1p", **FAST)
    rows = pd.DataFrame(r["rows"])
    assert set(rows["model"]) == {"pooled", "pooled-plain", "unpooled", "item-mean",
                                  "most-popular"}
    assert len(rows) == 20
    assert rows["rmse"].notna().sum() == 16 and rows["recall"].notna().all()
    assert r["held_out_users"] > 0 and not r["by_time"]
    assert r["objective"] == "watch"
    # Every target relevant: every scored user has relevant targets (a threshold leaves some out).
    every = ppmf.given_n(ratings, n=(0, 2), holdout_users=0.3, transform="log1p",
                         relevant="all", objective="minutes", **FAST)
    assert every["objective"] == "minutes"
    rows = pd.DataFrame(every["rows"])
    assert (rows["ranked_users"] == rows["users"]).all()
    with pytest.raises(ppmf.ConfigError, match="watch model"):
        ppmf.given_n(ratings, objective="watch", watch=False, **FAST)
