"""Training releases the GIL, and Ctrl-C stops it cleanly with KeyboardInterrupt."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import ppmf

# A problem big enough that training runs for many seconds on any machine.
# Python's own SIGINT handler is installed first: a parent that ignores SIGINT (a background job
# of a non-interactive shell) would otherwise pass that on.
SCRIPT = textwrap.dedent("""
    import signal, sys, ppmf
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ratings, ug, ig = ppmf.synth(60000, 6000, seed=1)
    print("ready", flush=True)
    try:
        ppmf.Model.fit(ratings, rank=48, epochs=1000, patience=0, valid_frac=0,
                       device="cpu", quiet=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(0)
    print("finished", flush=True)
""")


def test_ctrl_c_raises_keyboard_interrupt():
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ))
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0, out
    assert out.strip() == "interrupted"
    assert time.monotonic() - t0 < 10, "training stops within a row range, not at the end"


def test_other_threads_run_while_training():
    ratings, ug, ig = ppmf.synth(20000, 2000, seed=2)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=count)
    t.start()
    start = time.monotonic()
    ppmf.Model.fit(ratings, rank=16, epochs=8, valid_frac=0, device="cpu", quiet=True)
    elapsed = time.monotonic() - start
    done.set()
    t.join()
    during = [x for x in ticks if start <= x <= start + elapsed]
    # With the GIL held throughout, the counter would not tick at all while training.
    assert len(during) > 0.3 * elapsed / 0.005 * 0.5, (len(during), elapsed)
