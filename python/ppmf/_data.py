"""Turning the caller's data (arrays, lists, pandas objects, file paths) into library tables.

Ids may be strings or integers; they become the same strings the command line reads from a file
("42" for 42), numbered in order of first appearance as the file reader numbers them, so a table
built here trains the same model as the file it came from.
"""

import os

import numpy as np

from . import _ppmf

try:  # pandas is optional: DataFrames in and out when it is there
    import pandas as pd
except ImportError:  # pragma: no cover - exercised only without pandas
    pd = None


def is_path(x):
    return isinstance(x, (str, os.PathLike))


def is_frame(x):
    return pd is not None and isinstance(x, pd.DataFrame)


def _as_array(x, what):
    if pd is not None and isinstance(x, (pd.Series, pd.Index)):
        x = x.to_numpy()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-d sequence, got shape {a.shape}")
    return a


def _id_array(x, what):
    """`x` as a 1-d array of ids: integers (int64) or strings (object); integral floats become
    integers, as a file's "42" is read as the id "42", never "42.0"."""
    a = _as_array(x, what)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{what}: ids must be strings or integers, got non-integral numbers")
        return a.astype(np.int64)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    return a.astype(object)


def id_strings(x, what):
    """The ids of `x` as a 1-d array of Python strings (object dtype)."""
    a = _id_array(x, what)
    out = np.empty(len(a), dtype=object)
    out[:] = [v.decode() if isinstance(v, bytes) else str(v) for v in a.tolist()]
    return out


def factorize(x, what):
    """(codes int32, names list[str]): distinct ids in order of first appearance. Ids are hashed as
    they are (integers as integers, the fast path); only the distinct ones become strings."""
    a = _id_array(x, what)
    if pd is not None:
        codes, uniques = pd.factorize(a, sort=False)
        uniques = np.asarray(uniques)
    else:
        uniq, first, codes = np.unique(a, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes, uniques = rank[codes], uniq[order]
    return codes.astype(np.int32), [v.decode() if isinstance(v, bytes) else str(v)
                                    for v in uniques.tolist()]


def make_table(users, items, values=None, times=None, *, duplicates="error", name="data"):
    """A library table from columns; values on the raw scale (minutes, stars). A single user id
    (or item id) stands for every row: ("newbie", ["v1", "v2"], [12.0, 3.5])."""
    n = max(_length(users), _length(items))
    u_codes, u_names = factorize(_broadcast(users, n), f"{name}: users")
    i_codes, i_names = factorize(_broadcast(items, n), f"{name}: items")
    v = None if values is None else _as_array(values, f"{name}: values").astype(np.float32)
    t = None if times is None else _times(times, name)
    return _ppmf.make_table(name, u_codes, u_names, i_codes, i_names, v, t, duplicates)


def _is_scalar_id(x):
    return isinstance(x, (str, bytes, int, np.integer))


def _length(x):
    return 1 if _is_scalar_id(x) else len(x)


def _broadcast(x, n):
    return [x] * n if _is_scalar_id(x) else x


def _times(x, name):
    if pd is not None and (isinstance(x, (pd.Series, pd.Index)) and
                           pd.api.types.is_datetime64_any_dtype(x)):
        x = x.to_numpy()
    a = np.asarray(x)
    if a.dtype.kind == "M":  # datetime64: seconds since 1970, as the reader reads dates
        return (a.astype("datetime64[ns]").astype(np.int64) / 1e9).astype(np.float64)
    return _as_array(a, f"{name}: times").astype(np.float64)


def table_from(data, items=None, values=None, *, user="user", item="item", value="value",
               time=None, need_value=True, duplicates="error", columns=None,
               skip_bad_lines=False, name="data"):
    """A table from any of the accepted forms of `data`:

    - a path: read by the library's reader (delimiter, header, gzip detected; `columns` as the
      CLI's --columns, `time` a time column's name or position);
    - a DataFrame with columns `user`, `item` (and `value`, and `time` when given);
    - a tuple (users, items[, values]) or the three columns as separate arguments (a single id
      for users stands for every row);
    - a Table already built.
    """
    if isinstance(data, _ppmf.Table):
        return data
    if isinstance(data, tuple) and items is None:
        data, items, *rest = data
        values = rest[0] if rest else None
    if is_path(data) and items is None:
        cols = list(columns) if columns is not None else []
        return _ppmf.read_table(os.fspath(data), cols, need_value, duplicates, skip_bad_lines,
                                "" if time is None else str(time))
    if is_frame(data):
        missing = [c for c in ([user, item] + ([value] if need_value else [])) if c not in data]
        if missing:
            raise ValueError(f"{name}: the DataFrame has no column {missing[0]!r} "
                             f"(columns: {', '.join(map(str, data.columns))})")
        return make_table(data[user], data[item], data[value] if need_value else None,
                          data[time] if time is not None else None, duplicates=duplicates,
                          name=name)
    if items is None or (need_value and values is None):
        raise ValueError(f"{name}: give a DataFrame, a path, or users, items"
                         + (" and values" if need_value else ""))
    return make_table(data, items, values if need_value else None, time,
                      duplicates=duplicates, name=name)


def groups_from(groups, what):
    """{id: group} from a dict, a pandas Series (index: ids), a DataFrame (first column ids,
    second groups), a pair of sequences, or a path to an id,group CSV; None stays None."""
    if groups is None:
        return None
    if is_path(groups):
        return _ppmf.read_groups(os.fspath(groups))
    if isinstance(groups, dict):
        return {str(k): str(v) for k, v in groups.items()}
    if pd is not None and isinstance(groups, pd.Series):
        return dict(zip(id_strings(groups.index, what), (str(g) for g in groups.to_numpy())))
    if is_frame(groups):
        if groups.shape[1] < 2:
            raise ValueError(f"{what}: expected two columns (id, group)")
        return dict(zip(id_strings(groups.iloc[:, 0], what),
                        (str(g) for g in groups.iloc[:, 1].to_numpy())))
    if isinstance(groups, tuple) and len(groups) == 2:
        return dict(zip(id_strings(groups[0], what), (str(g) for g in groups[1])))
    raise TypeError(f"{what}: expected a dict, a pandas Series or DataFrame, (ids, groups) or a path")


def ids_from(x, what):
    if isinstance(x, (str, int, np.integer)):
        return [str(x)]
    return list(id_strings(x, what))


def table_columns(table, with_value=True):
    """A table's columns as a DataFrame (or a dict of arrays without pandas): user, item[, value]
    [, time]."""
    users = np.asarray(table.user_names, dtype=object)[table.user_codes]
    items = np.asarray(table.item_names, dtype=object)[table.item_codes]
    cols = {"user": users, "item": items}
    if with_value:
        cols["value"] = table.values
    if table.times is not None:
        cols["time"] = table.times
    return pd.DataFrame(cols) if pd is not None else cols
