"""The HTML report: one self-contained page with the four plots, whose numbers are evaluate()'s."""

import base64
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import ppmf

FAST = dict(rank=4, epochs=6, device="cpu", quiet=True, transform="log1p")


@pytest.fixture(scope="module")
def split(watch_data, tmp_path_factory):
    d, ratings, ug, ig = watch_data
    test = ratings.iloc[::6]
    train = ratings.drop(test.index)
    out = tmp_path_factory.mktemp("report")
    train[["user", "item", "value"]].to_csv(out / "train.csv", index=False)
    test[["user", "item", "value"]].to_csv(out / "test.csv", index=False)
    return out, train, test, ug, ig


def images(page):
    found = dict(re.findall(r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page))
    for key, data in found.items():
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n", key
    return found


def embedded(page):
    m = re.search(r'<script type="application/json" id="ppmf-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_report_has_the_plots_and_evaluates_numbers(split, tmp_path):
    out, train, test, ug, ig = split
    pooled = ppmf.Model.fit(train, user_groups=ug, item_groups=ig, test=test, **FAST)
    unpooled = ppmf.Model.fit(train, user_groups=ug, item_groups=ig, pool=False, **FAST)
    data = ppmf.report(pooled, test, tmp_path / "r.html", baseline=unpooled)
    page = (tmp_path / "r.html").read_text()
    assert set(images(page)) == {"epochs", "history", "calibration", "shrinkage"}
    shown = embedded(page)
    assert shown == json.loads(json.dumps(data))
    assert shown["results"]["model"] == pooled.evaluate(test)
    assert shown["results"]["baseline"] == unpooled.evaluate(test)
    overall = shown["results"]["model"]["overall"]
    assert f"<td>{overall['rmse']:.4f}</td>" in page
    ranking = shown["results"]["model"]["ranking"]
    popular = shown["results"]["model"]["most_popular"]
    assert f"<td>{ranking['recall']:.4f}</td><td>{ranking['ndcg']:.4f}</td>" in page
    assert f"<td>{popular['recall']:.4f}</td><td>{popular['ndcg']:.4f}</td>" in page
    # The calibration curve at p = 0.9 is evaluate's 90% coverage (same intervals).
    for name in ("model", "baseline"):
        curve = shown["calibration"][name]
        at90 = curve["coverage"][curve["levels"].index(0.9)]
        assert at90 == pytest.approx(shown["results"][name]["overall"]["coverage90"],
                                     abs=1.0 / overall["n"])
        assert np.all(np.diff(curve["coverage"]) >= 0)


def test_python_m_ppmf_report(split, tmp_path):
    out, train, test, ug, ig = split
    model = ppmf.Model.fit(out / "train.csv", **FAST)
    model.save(tmp_path / "m.ppmf")
    run = [sys.executable, "-m", "ppmf", "report", tmp_path / "m.ppmf", out / "test.csv"]
    r = subprocess.run(run + [tmp_path / "a.html", "--train", out / "train.csv"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "a.html").read_text()
    assert set(images(page)) == {"epochs", "history", "calibration", "shrinkage"}
    assert embedded(page)["results"]["model"] == model.evaluate(out / "test.csv")
    r = subprocess.run(run + [tmp_path / "b.html"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "b.html").read_text()
    assert set(images(page)) == {"epochs", "history", "calibration"}
    assert "give the training entries" in page
    r = subprocess.run(run[:4] + [tmp_path / "missing.ppmf", out / "test.csv", tmp_path / "c.html"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("python3 -m ppmf: error:"), r.stderr


def test_ranking_buckets_empty_for_one_model_show_a_dash(split, tmp_path):
    # A baseline that never saw half of the users ranks them as new (history 0); the model knows
    # them all, so its history-0 bucket is empty (null metrics) while the baseline's is not.
    out, train, test, ug, ig = split
    model = ppmf.Model.fit(train, **FAST)
    users = sorted(train["user"].unique())
    baseline = ppmf.Model.fit(train[train["user"].isin(users[::2])], **FAST)
    known = test[test["user"].isin(users)]
    data = ppmf.report(model, known, tmp_path / "r.html", baseline=baseline)
    by = {name: r["ranking_by_user_history"]["0"]["model"] for name, r in data["results"].items()}
    assert by["model"]["recall"] is None and by["baseline"]["users"] > 0
    # The history-0 rows: the error table's, then the ranking table's (the model's users, then
    # model, baseline and most popular recall and NDCG; most popular of the model's users).
    row = re.findall(r"<tr><th>0</th>(.*?)</tr>", (tmp_path / "r.html").read_text())[-1]
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells == ["0", "-", "-", f"{by['baseline']['recall']:.4f}",
                     f"{by['baseline']['ndcg']:.4f}", "-", "-"]
