"""python3 -m ppmf report MODEL TEST OUT.html [options]: the HTML training report."""

import argparse
import sys

from . import Error, report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m ppmf")
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser(
        "report", help="write a self-contained HTML report of a model on held-out entries",
        description="Plots held-out RMSE and ELBO by epoch, RMSE by the user's history length "
                    "(beside --baseline), calibration of the predictive intervals and the "
                    "shrinkage of user biases (with --train), in one HTML file.")
    r.add_argument("model", help="model file (.ppmf)")
    r.add_argument("test", help="held-out entries (user,item,value), read as ppmf-gpu reads --data")
    r.add_argument("out", help="HTML file to write")
    r.add_argument("--train", help="the training entries, for the shrinkage plot")
    r.add_argument("--baseline", help="a second model file drawn beside the first (e.g. unpooled)")
    r.add_argument("--user-groups", help="CSV id,group for users unseen in training")
    r.add_argument("--item-groups", help="CSV id,group for items unseen in training")
    r.add_argument("--k", type=int, default=10, help="ranked list length (default: 10)")
    r.add_argument("--device", default="auto", help="cpu, auto or a GPU index (default: auto)")
    args = parser.parse_args(argv)
    try:
        report(args.model, args.test, args.out, train=args.train, baseline=args.baseline,
               user_groups=args.user_groups, item_groups=args.item_groups, k=args.k,
               device=args.device)
    except (Error, ValueError, OSError) as e:
        print(f"python3 -m ppmf: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
