"""A training report as one self-contained HTML page (plots inlined as PNG), made with matplotlib:

- held-out RMSE and the ELBO by epoch (the validation and test curves, the kept epoch);
- RMSE on the test entries by the user's number of training entries, the model beside a baseline
  (e.g. the unpooled model) when one is given;
- calibration: the fraction of test entries inside the central p-interval of their predictive
  distribution, against p (a calibrated model lies on the diagonal);
- shrinkage: each user's posterior bias against the raw mean of its training entries (both about
  the global mean, model scale), coloured by the user's number of entries: light users are pulled
  towards their group, heavy ones are not.

The page embeds the numbers it shows as JSON (``<script type="application/json" id="ppmf-data">``):
the model's and the baseline's evaluate() results and the calibration curves.
"""

import base64
import html
import io
import json
import os
from statistics import NormalDist

import numpy as np

from . import _data, _ppmf
from .model import Model, _check_paths, load

LEVELS = np.round(np.arange(0.05, 1.0, 0.05), 2)  # central interval probabilities


def calibration(model, table, *, user_groups=None, item_groups=None, plain_prior=False,
                device=None):
    """(levels, coverage): the fraction of the table's entries whose value lies inside the central
    p-interval of its predictive Gaussian (model scale), for each p of ``levels``."""
    mean, sd = model.predict(table, user_groups=user_groups, item_groups=item_groups,
                             plain_prior=plain_prior, scale="model", device=device)
    y = np.asarray(table.values, dtype=np.float64)
    if model.config["transform"] == "log1p":
        y = np.log1p(y)
    z = np.abs(y - mean) / sd
    half = np.array([NormalDist().inv_cdf(0.5 + p / 2) for p in LEVELS])
    return LEVELS, (z[:, None] <= half[None, :]).mean(axis=0)


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure():
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    return Figure(figsize=(6.4, 4.0))


def _epochs_plot(history, kept_epoch):
    fig = _figure()
    ax_rmse, ax_elbo = fig.subplots(1, 2)
    epochs = [e["epoch"] for e in history]
    for key, label in (("train_rmse", "train"), ("valid_rmse", "validation"), ("test_rmse", "test")):
        ys = [np.nan if e[key] is None else e[key] for e in history]
        if not np.all(np.isnan(ys)):
            ax_rmse.plot(epochs, ys, marker=".", label=label)
    ax_elbo.plot(epochs, [e["elbo_per_entry"] for e in history], marker=".", color="C3")
    validated = [e["epoch"] for e in history if e["valid_nll"] is not None]
    refit = [e["epoch"] for e in history if validated and e["epoch"] > validated[-1]]
    for ax in (ax_rmse, ax_elbo):
        if refit:
            ax.axvspan(refit[0] - 0.5, refit[-1] + 0.5, color="grey", alpha=0.1,
                       label="refit on all entries")
        ax.axvline(kept_epoch, color="grey", linestyle=":", label="kept epoch")
        ax.set_xlabel("epoch")
    ax_rmse.set_ylabel("RMSE (model scale)")
    ax_rmse.legend(fontsize=7, loc="upper right")
    ax_elbo.set_ylabel("ELBO per entry")
    fig.tight_layout()
    return fig


def _label(models, name):
    """A plot label: pooled / unpooled when that tells the models apart, else model / baseline."""
    kinds = ["pooled" if m.config["pool"] else "unpooled" for m in models.values()]
    if len(set(kinds)) == len(kinds):
        return kinds[list(models).index(name)]
    return name


def _history_plot(results, labels):
    fig = _figure()
    ax = fig.subplots()
    buckets = list(next(iter(results.values()))["by_user_history"])
    width = 0.8 / len(results)
    for k, (name, r) in enumerate(results.items()):
        ys = [r["by_user_history"][b]["rmse"] for b in buckets]
        ys = [np.nan if y is None else y for y in ys]
        ax.bar(np.arange(len(buckets)) + (k - (len(results) - 1) / 2) * width, ys, width,
               label=labels[name])
    ax.set_xticks(np.arange(len(buckets)))
    ax.set_xticklabels(buckets)
    ax.set_xlabel("user's training entries")
    ax.set_ylabel("test RMSE (model scale)")
    ax.legend(fontsize=8)
    return fig


def _calibration_plot(curves, labels):
    fig = _figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    for name, (levels, coverage) in curves.items():
        ax.plot(levels, coverage, marker=".", label=labels[name])
    ax.set_xlabel("central interval probability p")
    ax.set_ylabel("fraction of test entries inside")
    ax.legend(fontsize=8)
    return fig


def _shrinkage_plot(model, train):
    """Posterior bias against the raw mean of each user's training entries (minus mu0)."""
    from matplotlib.colors import LogNorm
    post = model.posterior("users")
    y = np.asarray(train.values, dtype=np.float64)
    if model.config["transform"] == "log1p":
        y = np.log1p(y)
    names = np.asarray(train.user_names, dtype=object)
    index = {u: k for k, u in enumerate(post["ids"])}
    rows = np.array([index.get(u, -1) for u in names])[train.user_codes]
    keep = rows >= 0
    sums = np.bincount(rows[keep], weights=y[keep], minlength=len(post["ids"]))
    counts = np.bincount(rows[keep], minlength=len(post["ids"]))
    has = counts > 0
    raw = sums[has] / counts[has] - model.global_mean
    fig = _figure()
    ax = fig.subplots()
    points = ax.scatter(raw, post["bias"][has], c=counts[has], s=6, cmap="viridis",
                        norm=LogNorm(vmin=1, vmax=max(2, counts.max())))
    lo, hi = np.percentile(raw, [0.5, 99.5])
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", label="no shrinkage")
    fig.colorbar(points, ax=ax, label="user's training entries")
    ax.set_xlabel("raw mean of the user's entries - global mean")
    ax.set_ylabel("posterior user bias")
    ax.legend(fontsize=8)
    return fig


def _metrics_table(results, labels):
    head = "".join(f"<th colspan=4>{html.escape(labels[n])}</th>" for n in results)
    sub = "<th>entries</th><th>RMSE</th><th>NLL</th><th>cover90</th>" * len(results)
    rows = []
    buckets = ["all"] + list(next(iter(results.values()))["by_user_history"])
    for b in buckets:
        cells = []
        for r in results.values():
            m = r["overall"] if b == "all" else r["by_user_history"][b]
            fmt = [str(m["n"])] + ["-" if m[k] is None else f"{m[k]:.4f}"
                                   for k in ("rmse", "nll", "coverage90")]
            cells.append("".join(f"<td>{v}</td>" for v in fmt))
        rows.append(f"<tr><th>{html.escape(b)}</th>{''.join(cells)}</tr>")
    return (f"<table><tr><th rowspan=2>history</th>{head}</tr><tr>{sub}</tr>{''.join(rows)}"
            f"</table>{_ranking_table(results, labels)}")


def _ranking_table(results, labels):
    """Recall and NDCG at k of each model's lists and of the most-popular lists of the first model's
    users, overall and by the user's number of training entries (each model's own counts: a
    bucket may be empty for one model and not another, shown as -)."""
    first = next(iter(results.values()))
    if first["ranking"]["users"] == 0:
        return "<p>Ranking: no user has a relevant held-out entry</p>"
    k = first["ranking"]["k"]
    names = [labels[n] for n in results] + ["most popular"]
    head = "".join(f"<th colspan=2>{html.escape(n)}</th>" for n in names)
    sub = f"<th>recall@{k}</th><th>NDCG@{k}</th>" * len(names)
    rows = []
    for b in ["all"] + list(first["ranking_by_user_history"]):
        lists = [r["ranking"] if b == "all" else r["ranking_by_user_history"][b]["model"]
                 for r in results.values()]
        lists.append(first["most_popular"] if b == "all"
                     else first["ranking_by_user_history"][b]["most_popular"])
        if all(m["users"] == 0 for m in lists):
            continue
        cells = "".join("".join("<td>-</td>" if m[key] is None else f"<td>{m[key]:.4f}</td>"
                                for key in ("recall", "ndcg")) for m in lists)
        rows.append(f"<tr><th>{html.escape(b)}</th><td>{lists[0]['users']}</td>{cells}</tr>")
    return (f"<table><tr><th rowspan=2>history</th><th rowspan=2>users</th>{head}</tr>"
            f"<tr>{sub}</tr>{''.join(rows)}</table>")


def write_report(model, test, path, *, train=None, baseline=None, k=10, relevant=None,
                 user_groups=None, item_groups=None, title=None, device=None):
    """Writes the report of ``model`` on held-out entries ``test`` to ``path`` (HTML).

    model, baseline: Models or .ppmf paths; the baseline (e.g. the unpooled model) is drawn beside
        the model in the RMSE-by-history and calibration plots.
    test, train: entries in any form Model.fit accepts (DataFrame, (users, items, values), path).
        The shrinkage plot needs the training entries: ``train``, or those of a model fitted in
        this process.
    Returns the numbers the page shows (as embedded in it).
    """
    _check_paths(dict(model=model, test=test, train=train, baseline=baseline,
                      user_groups=user_groups, item_groups=item_groups), dict(out=path))
    model = load(model, device=device or "auto") if not isinstance(model, Model) else model
    if baseline is not None and not isinstance(baseline, Model):
        baseline = load(baseline, device=device or "auto")
    test_table = _data.table_from(test, name="test")
    train_table = _data.table_from(train, name="train") if train is not None else model._train
    ug = _data.groups_from(user_groups, "user_groups")
    ig = _data.groups_from(item_groups, "item_groups")
    models = {"model": model}
    if baseline is not None:
        models["baseline"] = baseline
    results, curves = {}, {}
    for name, m in models.items():
        results[name] = m.evaluate(test_table, k=k, relevant=relevant, user_groups=ug,
                                   item_groups=ig, device=device)
        curves[name] = calibration(m, test_table, user_groups=ug, item_groups=ig, device=device)

    history = model._m.history
    figures = []
    if history:
        figures.append(("epochs", "Held-out RMSE and ELBO by epoch",
                        _epochs_plot(history, model.kept_epoch)))
    labels = {name: _label(models, name) for name in models}
    figures.append(("history", "Test RMSE by the user's training entries",
                    _history_plot(results, labels)))
    figures.append(("calibration", "Calibration of the predictive intervals",
                    _calibration_plot(curves, labels)))
    if train_table is not None:
        figures.append(("shrinkage", "Shrinkage of user biases", _shrinkage_plot(model,
                                                                                 train_table)))
    data = {"results": results,
            "calibration": {n: {"levels": lv.tolist(), "coverage": cv.tolist()}
                            for n, (lv, cv) in curves.items()}}
    c = model.config
    title = title or (f"ppmf model: rank {c['rank']}, {'pooled' if c['pool'] else 'unpooled'}, "
                      f"transform {c['transform']}")
    sections = "".join(
        f'<section id="{key}"><h2>{html.escape(caption)}</h2>'
        f'<img alt="{key}" src="data:image/png;base64,{_png(fig)}"></section>'
        for key, caption, fig in figures)
    if train_table is None:
        sections += ("<section id='shrinkage'><h2>Shrinkage of user biases</h2><p>Not drawn: give "
                     "the training entries (train=..., or --train) to draw it.</p></section>")
    embedded = json.dumps(data).replace("</", "<\\/")  # never closes the script element
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(model.posterior('users')['ids'])} users, {len(model.posterior('items')['ids'])} items,
noise sd {model.sigma:.4f}; {test_table.size} test entries. Metrics on the model scale.</p>
{_metrics_table(results, labels)}
{sections}
<script type="application/json" id="ppmf-data">{embedded}</script>
</body></html>
"""
    _ppmf.write_text(os.fspath(path), page)
    return data
