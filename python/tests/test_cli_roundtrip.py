"""The Python package and the command line share model files and results: a model trained in
Python is read by `ppmf-gpu predict` and back, and on the CPU the same data, settings and seed
give the same model, bit for bit, from either front end."""

import io

import numpy as np
import pandas as pd

import ppmf

SETTINGS = dict(rank=4, epochs=8, seed=7, transform="log1p")
FLAGS = ["--rank", "4", "--epochs", "8", "--seed", "7", "--transform", "log1p"]


def cli_predict(cli, model_path, pairs_path, *extra):
    out = cli("predict", "--model", model_path, "--pairs", pairs_path, "--device", "cpu",
              *extra).stdout
    return pd.read_csv(io.StringIO(out), dtype={"user": str, "item": str})


def test_same_seed_same_model_from_python_and_cli(cli, watch_data, tmp_path):
    d, ratings, ug, ig = watch_data
    groups = ["--user-groups", d / "user_groups.csv", "--item-groups", d / "item_groups.csv"]
    cli("train", "--data", d / "ratings.csv", *groups, *FLAGS, "--device", "cpu", "--quiet",
        "--out", tmp_path / "cli.ppmf")
    py = ppmf.Model.fit(ppmf.read_ratings(d / "ratings.csv"), user_groups=ug, item_groups=ig,
                        device="cpu", quiet=True, **SETTINGS)
    py.save(tmp_path / "py.ppmf")
    from_cli = ppmf.load(tmp_path / "cli.ppmf", device="cpu")
    for side in ("users", "items"):
        a, b = py.posterior(side), from_cli.posterior(side)
        assert list(a["ids"]) == list(b["ids"])
        for key in ("mean", "sd", "bias", "bias_sd"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{side} {key}")
    np.testing.assert_array_equal(py.prior("users")["cov"], from_cli.prior("users")["cov"])
    assert py.sigma == from_cli.sigma

    # Predictions of both files, by both front ends, including unknown ids: identical.
    pairs = pd.DataFrame({"user": list(ratings["user"][:40]) + ["stranger", "u0000003"],
                          "item": list(ratings["item"][40:80]) + ["v000001", "never-seen"]})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    by_cli_py = cli_predict(cli, tmp_path / "py.ppmf", tmp_path / "pairs.csv")
    by_cli_cli = cli_predict(cli, tmp_path / "cli.ppmf", tmp_path / "pairs.csv")
    pd.testing.assert_frame_equal(by_cli_py, by_cli_cli)
    mean, sd, source = py.predict(pairs, return_source=True)
    np.testing.assert_array_equal(mean, from_cli.predict(pairs)[0])
    # The CLI prints 9 significant digits of the same doubles.
    np.testing.assert_allclose(by_cli_py["mean"], mean, rtol=1e-8)
    np.testing.assert_allclose(by_cli_py["sd"], sd, rtol=1e-8)
    assert list(by_cli_py["source"]) == list(source)


def test_cli_folds_into_a_python_model_and_python_reads_it_back(cli, watch_data, tmp_path):
    d, ratings, ug, ig = watch_data
    py = ppmf.Model.fit(ratings, device="cpu", quiet=True, **SETTINGS)
    py.save(tmp_path / "m.ppmf")
    history = pd.DataFrame({"user": ["newcomer", "newcomer"], "item": list(ratings["item"][:2]),
                            "value": [25.0, 3.0]})
    history.to_csv(tmp_path / "history.csv", index=False)
    cli("foldin", "--model", tmp_path / "m.ppmf", "--data", tmp_path / "history.csv", "--out",
        tmp_path / "folded.ppmf")
    folded_by_cli = ppmf.load(tmp_path / "folded.ppmf", device="cpu")
    folded_by_py = py.fold_in(history)
    a = folded_by_cli.recommend("newcomer", k=10)
    b = folded_by_py.recommend("newcomer", k=10)
    pd.testing.assert_frame_equal(a, b)
    out = cli("recommend", "--model", tmp_path / "folded.ppmf", "--user", "newcomer", "--k", "10",
              "--device", "cpu").stdout
    by_cli = pd.read_csv(io.StringIO(out), dtype={"user": str, "item": str})
    assert list(by_cli["item"]) == list(b["item"])
    np.testing.assert_allclose(by_cli["mean"], b["mean"], rtol=1e-8)


def test_eval_json_equals_python_evaluate(cli, watch_data, tmp_path):
    d, ratings, ug, ig = watch_data
    py = ppmf.Model.fit(ratings, device="cpu", quiet=True, **SETTINGS)
    py.save(tmp_path / "m.ppmf")
    test = ratings.iloc[::5][["user", "item", "value"]]
    test.to_csv(tmp_path / "test.csv", index=False)
    cli("eval", "--model", tmp_path / "m.ppmf", "--data", tmp_path / "test.csv", "--device", "cpu",
        "--json", tmp_path / "eval.json")
    import json
    with open(tmp_path / "eval.json") as f:
        by_cli = json.load(f)
    assert by_cli == py.evaluate(tmp_path / "test.csv")
