"""ppmf.Model: fit, predict, fold in, recommend, evaluate, save and load a pooled PMF model.

Every keyword mirrors the command line's flag of the same name (``--prec-a0`` is ``prec_a0=``)
with the same default; the flags that switch something off become booleans that default to on
(``--no-pool`` is ``pool=True``, ``--no-refit`` is ``refit=True``). A model saved here is the same
``.ppmf`` file the command line reads and writes.
"""

import os
import sys

import numpy as np

from . import _data, _ppmf

_SOURCES = np.array(["trained", "group", "population"], dtype=object)


def _model_config(rank, transform, pool, tau, prec_a0, prec_b0, init_sd):
    return dict(rank=rank, transform=transform, pool=pool, tau=tau, prec_a0=prec_a0,
                prec_b0=prec_b0, init_sd=init_sd)


def _train_config(epochs, valid_frac, refit, patience, min_improvement, seed, checkpoint="",
                  checkpoint_every=1, watch=True, watch_rank=None, watch_alpha=0.0,
                  watch_zero_weight=0.0, watch_epochs=10):
    return dict(epochs=epochs, valid_frac=valid_frac, refit=refit, patience=patience,
                min_improvement=min_improvement, seed=seed, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every, watch=watch, watch_rank=watch_rank,
                watch_alpha=watch_alpha, watch_zero_weight=watch_zero_weight,
                watch_epochs=watch_epochs)


def _relevance(relevant):
    """``relevant`` as the library takes it: (threshold or None, every entry relevant)."""
    every = isinstance(relevant, str) and relevant == "all"
    return (None if every else relevant), every


def _fspath(x):
    return os.fspath(x) if _data.is_path(x) else ""


def _check_paths(inputs, outputs, may_replace=()):
    """Refuses an output naming an input or another output (as the CLI does), before any work.
    inputs, outputs: {keyword: value}; values that are not paths are skipped."""
    def roles(d):
        return [(k, _fspath(v)) for k, v in d.items() if _fspath(v)]
    _ppmf.check_paths(roles(inputs), roles(outputs), list(may_replace))


def _callbacks(quiet, callback):
    """(on_epoch, on_note) for the binding: lines on stderr unless quiet, and the user's callback
    with each epoch's metrics."""
    def on_epoch(metrics, line):
        if not quiet:
            print(line, file=sys.stderr, flush=True)
        if callback is not None:
            callback(metrics)

    def on_note(note):
        if not quiet:
            print(note, file=sys.stderr, flush=True)

    return on_epoch, on_note


class Model:
    """A trained pooled probabilistic matrix factorization model.

    Create one with :meth:`fit` or :func:`ppmf.load`. Predictions, recommendations and evaluations
    run on ``device`` ("auto": a GPU when one is usable, else the CPU; "cpu"; or a GPU index).
    """

    def __init__(self, model, *, device="auto", threads=0, report=None, train=None):
        self._m = model
        self.device = device
        self.threads = threads
        #: The training report (a dict, as ``ppmf-gpu train --metrics-json`` writes it) when this
        #: model was fitted in this process; None for a loaded model.
        self.report = report
        #: After :meth:`fold_in`: what it did (added, updated, entries_used, entries_unknown_item).
        self.fold_in_report = None
        self._train = train  # the training table, for the report's shrinkage plot
        self._scorers = {}

    # ---------------------------------------------------------------------------------- training

    @classmethod
    def fit(cls, data, items=None, values=None, *, user="user", item="item", value="value",
            columns=None, duplicates="error", skip_bad_lines=False,
            test=None, test_frac=0.0, split_out=None,
            user_groups=None, item_groups=None,
            transform="none", rank=32, pool=True, tau=1.0, prec_a0=2.0, prec_b0=1.0,
            init_sd=0.1, epochs=40, valid_frac=0.05, refit=True, patience=5,
            min_improvement=0.001, seed=1, quiet=False, callback=None, warm_start=None,
            device="auto", threads=0, out=None, metrics_json=None, checkpoint=None,
            checkpoint_every=1, resume=None, watch=True, watch_rank=None, watch_alpha=0.0,
            watch_zero_weight=0.0, watch_epochs=10):
        """Trains a model (``ppmf-gpu train``).

        data: a DataFrame with columns ``user``, ``item``, ``value`` (names set by those keywords);
            or three sequences ``data, items, values`` (numpy arrays, lists or pandas Series of
            string or integer ids, and values); or a path read as ``--data`` is (``columns``,
            ``duplicates``, ``skip_bad_lines`` as the CLI's flags).
        test: held-out entries in any of those forms (a tuple for sequences); reported per epoch,
            never used for training or stopping. ``test_frac`` instead holds out that fraction of
            ``data`` at random (seeded by ``seed``); ``split_out`` writes the split as CSV files.
        user_groups, item_groups: {id: group} as a dict, a pandas Series (index: ids), a two-column
            DataFrame or a path; ids absent from them go to group "default".
        transform: "none" or "log1p" (for watch time). rank: latent factors (0: biases only).
        pool: False trains the unpooled baseline (fixed N(0, I) priors).
        epochs, valid_frac, refit, patience, min_improvement: at most ``epochs`` sweeps;
            ``valid_frac`` of the entries (by a hash of their ids) choose the number of epochs,
            then the model is refit on all entries unless ``refit=False``.
        quiet: no per-epoch lines on stderr. callback: called with each epoch's metrics (a dict).
        warm_start: a Model (or path) to start from (its watch part too when of the same watch
            rank, with its watch weights unless given; one given: their ratio kept). device,
            threads: where to train.
        out, metrics_json: also save the model / write the training report there (atomically).
        checkpoint, checkpoint_every: write the run's state to this file every that many epochs
            and at the end; ``resume``: continue the run saved in that checkpoint (the same data
            and settings; default checkpoint then: the same file). The resumed run ends with the
            model of the uninterrupted one, bit for bit on the CPU.
        watch, watch_rank, watch_alpha, watch_zero_weight, watch_epochs: the watch model (which
            items users watch; ``recommend``'s default objective), as the CLI's --watch-* flags:
            rank None = ``rank``, alpha and zero weight 0 = chosen on a validation split of the
            training data.
        No output may name the same file as an input (``out`` may equal ``warm_start``,
        ``checkpoint`` may equal ``resume``).

        Training releases the GIL; Ctrl-C stops it with KeyboardInterrupt. Settings out of range
        raise :class:`ppmf.ConfigError` naming the keyword.
        """
        if test is not None and test_frac > 0:
            raise ValueError("give either test or test_frac, not both")
        if checkpoint is None and resume is not None:
            checkpoint = resume
        split_files = {}
        if split_out is not None:
            split_files = {"split_out/train.csv": os.path.join(split_out, "train.csv"),
                           "split_out/test.csv": os.path.join(split_out, "test.csv")}
        _check_paths(dict(data=data, test=test, user_groups=user_groups, item_groups=item_groups,
                          warm_start=warm_start, resume=resume),
                     dict(out=out, metrics_json=metrics_json, checkpoint=checkpoint,
                          **split_files),
                     [("warm_start", "out"), ("resume", "checkpoint")])
        table = _data.table_from(data, items, values, user=user, item=item, value=value,
                                 duplicates=duplicates, columns=columns,
                                 skip_bad_lines=skip_bad_lines, name="data")
        test_table = None
        if test is not None:
            test_table = _data.table_from(test, user=user, item=item, value=value,
                                          duplicates=duplicates, columns=columns,
                                          skip_bad_lines=skip_bad_lines, name="test")
        elif test_frac > 0:
            table, test_table = _ppmf.split_random(table, test_frac, seed)
        if split_out is not None:
            os.makedirs(split_out, exist_ok=True)
            _ppmf.write_table(table, os.path.join(split_out, "train.csv"))
            if test_table is not None:
                _ppmf.write_table(test_table, os.path.join(split_out, "test.csv"))
        if isinstance(warm_start, (str, os.PathLike)):
            warm_start = load(warm_start)
        on_epoch, on_note = _callbacks(quiet, callback)
        model, report = _ppmf.train(
            table, test_table,
            _data.groups_from(user_groups, "user_groups"),
            _data.groups_from(item_groups, "item_groups"),
            warm_start._m if warm_start is not None else None,
            _model_config(rank, transform, pool, tau, prec_a0, prec_b0, init_sd),
            _train_config(epochs, valid_frac, refit, patience, min_improvement, seed,
                          _fspath(checkpoint), checkpoint_every, watch, watch_rank, watch_alpha,
                          watch_zero_weight, watch_epochs),
            _fspath(resume), str(device), threads, on_epoch, on_note)
        fitted = cls(model, device=device, threads=threads, report=report, train=table)
        if out is not None:
            fitted.save(out)
        if metrics_json is not None:
            import json
            _ppmf.write_text(os.fspath(metrics_json), json.dumps(report, indent=2))
        return fitted

    # ----------------------------------------------------------------------------------- serving

    def _scorer(self, device=None):
        key = str(self.device if device is None else device)
        if key not in self._scorers:
            scorer = _ppmf.Scorer(self._m, key, self.threads)
            if scorer.note:
                print(f"ppmf: note: {scorer.note}", file=sys.stderr)
            self._scorers[key] = scorer
        return self._scorers[key]

    def _with_history(self, history, user_groups, plain_prior, user, item, value):
        if history is None:
            return self
        return self.fold_in(history, user=user, item=item, value=value, user_groups=user_groups,
                            plain_prior=plain_prior)

    def _to_scale(self, scale, mean, var):
        if scale == "original":
            return _ppmf.to_original_scale(self.config["transform"], mean, var)
        if scale == "model":
            return mean.astype(np.float64), np.sqrt(var.astype(np.float64))
        raise ValueError(f"scale: unknown scale {scale!r} (expected original|model)")

    def predict(self, users, items=None, *, user="user", item="item", value="value",
                user_groups=None, item_groups=None, history=None, plain_prior=False,
                scale="original", device=None, return_source=False):
        """Predictive mean and sd (noise included) of (user, item) pairs (``ppmf-gpu predict``).

        users, items: two sequences of ids, or a DataFrame of pairs (columns ``user``, ``item``).
        Ids unseen in training are predicted from their group's prior (``user_groups``,
        ``item_groups``) or the population prior; new users from the size-biased prior of a new
        user unless ``plain_prior``. ``history``: entries folded in first. ``scale``: "original"
        (undo the transform: minutes for log1p) or "model".
        Returns (mean, sd) as float64 arrays in the pairs' order, and the source of each
        prediction ("trained", "group", "population") when ``return_source``.
        """
        pairs = _data.table_from(users, items, need_value=False, user=user, item=item,
                                 name="pairs")
        model = self._with_history(history, user_groups, plain_prior, user, item, value)
        mean, var, source = model._scorer(device).predict(
            pairs, _data.groups_from(user_groups, "user_groups"),
            _data.groups_from(item_groups, "item_groups"), plain_prior)
        mean, sd = self._to_scale(scale, mean, var)
        return (mean, sd, _SOURCES[source]) if return_source else (mean, sd)

    def fold_in(self, data, items=None, values=None, *, user="user", item="item", value="value",
                user_groups=None, plain_prior=False, duplicates="error", threads=None):
        """A new model with users folded in by their exact posterior (``ppmf-gpu foldin``).

        New users start from their group's prior (size-biased for their number of entries unless
        ``plain_prior``); known users are updated with the new entries. Entries of items the model
        has never seen are skipped; ``fold_in_report`` of the result counts them.
        """
        table = _data.table_from(data, items, values, user=user, item=item, value=value,
                                 duplicates=duplicates, name="fold-in data")
        model, report = _ppmf.fold_in(self._m, table,
                                      _data.groups_from(user_groups, "user_groups"), plain_prior,
                                      self.threads if threads is None else threads)
        out = Model(model, device=self.device, threads=self.threads)
        out.fold_in_report = report
        return out

    def recommend(self, users, k=10, *, history=None, user_groups=None, candidates=None,
                  include_seen=False, explore="none", ucb_beta=1.0, seed=1, plain_prior=False,
                  scale="original", device=None, as_frame=True, user="user", item="item",
                  value="value", objective="auto"):
        """Top-k items per user (``ppmf-gpu recommend``): a DataFrame (or with ``as_frame=False``
        or without pandas, a dict of arrays) with columns user, rank, item, score, mean, sd, and
        watch, watch_sd for a model with a watch part.

        Ranked by ``objective``: "watch" (the watch score: how likely the user is to watch the
        item), "minutes" (the predicted value if watched), "expected" (their product), "auto"
        (watch, or minutes without a watch part); by one posterior draw of both parts with
        ``explore="thompson"`` (seeded by ``seed``), or mean + ``ucb_beta`` * sd with "ucb".
        mean and sd are the value's, on ``scale``. Seen items are excluded unless
        ``include_seen``. Users unknown to the model rank from their ``history`` (folded in
        first) or else their prior.
        """
        ids = _data.ids_from(users, "users")
        model = self._with_history(history, user_groups, plain_prior, user, item, value)
        cands = None if candidates is None else _data.ids_from(candidates, "candidates")
        r = model._scorer(device).recommend(ids, k, explore, ucb_beta, seed, include_seen, cands,
                                            _data.groups_from(user_groups, "user_groups"),
                                            plain_prior, objective)
        mean, sd = self._to_scale(scale, r["mean"], r["var"])
        cols = {
            "user": np.asarray(ids, dtype=object)[r["user_row"]],
            "rank": r["rank"],
            "item": np.asarray(model._m.item_names(r["item_index"]), dtype=object),
            "score": r["score"].astype(np.float64),
            "mean": mean,
            "sd": sd,
        }
        if self._m.has_watch:
            cols["watch"] = r["watch"].astype(np.float64)
            cols["watch_sd"] = np.sqrt(r["watch_var"].astype(np.float64))
        if as_frame and _data.pd is not None:
            return _data.pd.DataFrame(cols)
        return cols

    def evaluate(self, test, *, k=10, relevant=None, user_groups=None, item_groups=None,
                 plain_prior=False, device=None, user="user", item="item", value="value",
                 columns=None, duplicates="error", objective="auto"):
        """Scores the model on held-out entries (``ppmf-gpu eval``): a dict with "overall" and
        "by_user_history" (n, rmse, mae, nll, coverage90 on the model scale), "ranking"
        (precision, recall, NDCG at k and catalog coverage of the lists ranked by ``objective``)
        and "most_popular" (the same for the most popular unseen items), and both again by the
        user's number of training entries in "ranking_by_user_history". Entries above
        ``relevant`` (raw scale; default the training mean) are relevant, or every entry with
        ``relevant="all"``. The same fields as the CLI's --json."""
        table = _data.table_from(test, user=user, item=item, value=value, columns=columns,
                                 duplicates=duplicates, name="test")
        return self._scorer(device).evaluate(table, k, *_relevance(relevant),
                                             _data.groups_from(user_groups, "user_groups"),
                                             _data.groups_from(item_groups, "item_groups"),
                                             plain_prior, objective)

    # ------------------------------------------------------------------------------------ files

    def save(self, path):
        """Writes the model as a .ppmf file (atomically, checksummed), as ``ppmf-gpu train``."""
        self._m.save(os.fspath(path))

    # -------------------------------------------------------------------------------- posterior

    @property
    def config(self):
        """The model's settings: rank, transform, pool, tau, prec_a0, prec_b0, noise_a, noise_b,
        init_sd."""
        return self._m.config

    @property
    def global_mean(self):
        """mu0: the mean training value on the model scale."""
        return float(self._m.mu0)

    @property
    def sigma(self):
        """The noise sd on the model scale."""
        return float(np.sqrt(self._m.sigma2))

    @property
    def history(self):
        """Per-epoch training metrics, a DataFrame (list of dicts without pandas)."""
        h = self._m.history
        return _data.pd.DataFrame(h) if _data.pd is not None else h

    @property
    def kept_epoch(self):
        """The epoch whose guide the model holds (after a refit, the refit's last)."""
        return self._m.best_epoch

    def posterior(self, side="users"):
        """One side's posterior as arrays: ids, group (per entity), count (training entries),
        mean and sd of the factors (n x rank), bias and bias_sd."""
        p = self._m.posterior(self._side(side))
        names = np.asarray(p.pop("group_names"), dtype=object)
        p["group"] = names[p.pop("group_of")] if len(names) else np.empty(0, dtype=object)
        p["ids"] = np.asarray(p["ids"], dtype=object)
        return p

    def prior(self, side="users"):
        """One side's learned group priors over [factors; bias]: groups, mean (G x rank+1),
        cov (G x rank+1 x rank+1), population_mean."""
        return self._m.prior(self._side(side))

    def to_frame(self, side="users"):
        """One row per user (or item): id, group, count, bias, bias_sd, f0.., sd0.. (pandas)."""
        p = self.posterior(side)
        cols = {"id": p["ids"], "group": p["group"], "count": p["count"], "bias": p["bias"],
                "bias_sd": p["bias_sd"]}
        for k in range(p["mean"].shape[1]):
            cols[f"f{k}"] = p["mean"][:, k]
        for k in range(p["sd"].shape[1]):
            cols[f"sd{k}"] = p["sd"][:, k]
        return _data.pd.DataFrame(cols)

    @staticmethod
    def _side(side):
        if side not in ("users", "items"):
            raise ValueError(f"side: expected 'users' or 'items', got {side!r}")
        return side == "users"

    def __repr__(self):
        c = self.config
        p = self._m.posterior(True)
        q = self._m.posterior(False)
        return (f"<ppmf.Model rank {c['rank']}, {'pooled' if c['pool'] else 'unpooled'}, "
                f"transform {c['transform']}, {len(p['ids'])} users, {len(q['ids'])} items, "
                f"{self._m.n_train} training entries>")


def load(path, *, device="auto", threads=0):
    """A model from a .ppmf file (verified: a corrupt or truncated file raises ppmf.Error)."""
    return Model(_ppmf.load_model(os.fspath(path)), device=device, threads=threads)


def read_ratings(path, *, columns=None, duplicates="error", skip_bad_lines=False, time=None,
                 as_frame=True):
    """A ratings file read exactly as the command line reads ``--data``: a DataFrame (or dict)
    with user, item, value (and time, seconds since 1970, when ``time`` names a column)."""
    table = _data.table_from(os.fspath(path), columns=columns, duplicates=duplicates,
                             skip_bad_lines=skip_bad_lines, time=time)
    cols = _data.table_columns(table)
    return cols if as_frame or _data.pd is None else dict(cols)


def given_n(data, *, n=(0, 1, 3, 5), holdout_users=0.2, k=10, relevant=None, objective="auto",
            time=None, user="user", item="item", value="value", columns=None, duplicates="error",
            user_groups=None, item_groups=None, transform="none", rank=32, tau=1.0,
            prec_a0=2.0, prec_b0=1.0, init_sd=0.1, epochs=40, valid_frac=0.05, refit=True,
            patience=5, min_improvement=0.001, seed=1, quiet=False, callback=None,
            device="auto", threads=0, watch=True, watch_rank=None, watch_alpha=0.0,
            watch_zero_weight=0.0, watch_epochs=10):
    """The given-N cold-start protocol (``ppmf-gpu eval --protocol given-n``): holds out
    ``holdout_users`` of the users, trains pooled and unpooled models on the rest, gives each
    held-out user its first N entries (by ``time`` when given: a column of the DataFrame or file,
    or a sequence) and scores the entries after them. ``relevant``, ``objective``: as in
    ``Model.evaluate``; the training settings and ``watch*`` as in ``Model.fit``. Returns the
    CLI's --json as a dict; its "rows" make a DataFrame."""
    table = _data.table_from(data, user=user, item=item, value=value, time=time,
                             columns=columns, duplicates=duplicates, name="data")
    on_epoch, on_note = _callbacks(quiet, callback)
    return _ppmf.given_n(table, list(n), holdout_users, k, *_relevance(relevant),
                         objective, _data.groups_from(user_groups, "user_groups"),
                         _data.groups_from(item_groups, "item_groups"),
                         _model_config(rank, transform, True, tau, prec_a0, prec_b0, init_sd),
                         _train_config(epochs, valid_frac, refit, patience, min_improvement, seed,
                                       watch=watch, watch_rank=watch_rank,
                                       watch_alpha=watch_alpha,
                                       watch_zero_weight=watch_zero_weight,
                                       watch_epochs=watch_epochs),
                         str(device), threads, on_epoch, on_note)
