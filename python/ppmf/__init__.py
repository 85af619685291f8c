"""ppmf: pooled probabilistic matrix factorization, trained by variational inference with exact
row updates on the CPU or a GPU.

    import ppmf
    model = ppmf.Model.fit(df, rank=32, user_groups=channels, item_groups=genres,
                           transform="log1p")
    mean, sd = model.predict(users, items)
    newcomer = model.fold_in(("new-user", ["v1", "v2"], [12.0, 3.5]))
    newcomer.recommend("new-user", k=10)

The same library, model files and defaults as the ``ppmf-gpu`` command line.
"""

from . import _ppmf
from ._ppmf import ConfigError, Error
from .model import Model, given_n, load, read_ratings

__all__ = ["Model", "load", "read_ratings", "given_n", "synth", "list_gpus", "report",
           "ConfigError", "Error", "defaults"]


def defaults():
    """The library's defaults of the settings (what the keywords default to)."""
    return _ppmf.defaults()


def list_gpus():
    """The GPUs this build can use (index, name, memory, SMs, compute capability) and, when there
    are none, why: (list of dicts, reason)."""
    return _ppmf.list_gpus()


def synth(users=20000, items=4000, *, rank=8, channels=6, genres=12, noise_sd=0.5, seed=1):
    """AVOD-like watch data from the pooled model (``ppmf-gpu synth``): users in acquisition
    channels, videos in genres, most users with 1-3 views, minutes watched. Returns (ratings,
    user_groups, item_groups): a DataFrame (user, item, value = minutes) with the noise-free mean
    of log1p(minutes) as column true_mean, and two {id: group} dicts."""
    from . import _data
    d = _ppmf.synth(users, items, rank, channels, genres, noise_sd, seed)
    cols = _data.table_columns(d["ratings"])
    cols["true_mean"] = d["true_mean"]
    return cols, d["user_groups"], d["item_groups"]


def report(model, test, path, **kwargs):
    """Writes a self-contained HTML training report; see ppmf.report_html.write_report."""
    from .report_html import write_report
    return write_report(model, test, path, **kwargs)
