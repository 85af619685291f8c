"""Shared fixtures: the CLI built beside the package, and small generated data sets on disk."""

import os
import shutil
import subprocess

import pytest

import ppmf


@pytest.fixture(scope="session")
def cli():
    """Runs the ppmf-gpu executable of this build; returns its stdout, fails on a non-zero exit."""
    path = os.environ.get("PPMF_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("PPMF_CLI does not name the ppmf-gpu executable (run through ctest)")

    def run(*args, check=True):
        r = subprocess.run([path, *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"ppmf-gpu {' '.join(map(str, args))} failed:\n{r.stderr}")
        return r

    return run


@pytest.fixture(scope="session")
def watch_data(tmp_path_factory):
    """An AVOD-like minutes-watched set on disk: ratings.csv, user_groups.csv, item_groups.csv,
    and the same as a DataFrame and two dicts."""
    d = tmp_path_factory.mktemp("watch")
    ratings, user_groups, item_groups = ppmf.synth(1500, 300, seed=4)
    ratings[["user", "item", "value"]].to_csv(d / "ratings.csv", index=False)
    for name, groups in (("user_groups.csv", user_groups), ("item_groups.csv", item_groups)):
        with open(d / name, "w") as f:
            f.write("id,group\n")
            f.writelines(f"{k},{v}\n" for k, v in sorted(groups.items()))
    return d, ratings, user_groups, item_groups


def pytest_sessionfinish(session, exitstatus):
    """Removes the session's temporary directory when ctest gave one (--basetemp), pass or fail:
    the suite leaves no files behind (pytest itself keeps its last three)."""
    basetemp = session.config.option.basetemp
    if basetemp:
        shutil.rmtree(basetemp, ignore_errors=True)
