#!/usr/bin/env python3
"""Two commits' ratio rows side by side, measured in one run.

Each commit is checked out into a throwaway git worktree; ``ratio.py`` (the one of each
commit, against that commit's package) then runs for the two in alternation, ``--runs``
times each, so both see the same machine. Each row reports the median of its runs.

    python benchmarks/compare.py BEFORE AFTER              # e.g. main~5 main
    python benchmarks/compare.py BEFORE AFTER --runs 3 --full
    python benchmarks/compare.py BEFORE AFTER --harness after --sections small

``--harness after`` runs the AFTER commit's ``ratio.py`` for both packages (each commit's
package on ``PYTHONPATH``), so a change to the harness itself (such as letting background
checkpoints finish between cases) applies to both sides. Only sections whose calls the
older package has can run that way: ``small`` (awards, spends, reservations, batches) can.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "compare-latest.md"
ROW = re.compile(r"^\| (?P<name>.+?) \| [^|]* \| [^|]* \| (?P<ratio>[0-9.]+) \|")


def ratios(markdown: str) -> dict[str, float]:
    """The ratio column of a ``ratio.py`` table, by row name."""
    found: dict[str, float] = {}
    for line in markdown.splitlines():
        match = ROW.match(line)
        if match:
            found[match["name"]] = float(match["ratio"])
    return found


def run_ratio(
    tree: Path, out: Path, quick: bool, harness: Path | None = None, sections: str | None = None
) -> dict[str, float]:
    """One run of ``ratio.py`` (``harness``'s, else the tree's own) on ``tree``'s package."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    script = (harness or tree) / "benchmarks" / "ratio.py"
    command = [sys.executable, str(script), "--out", str(out)]
    if quick:
        command.append("--quick")
    if sections:
        command += ["--sections", sections]
    subprocess.run(command, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL)
    return ratios(out.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full ratio runs, not --quick")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--harness",
        choices=("own", "after"),
        default="own",
        help="whose ratio.py measures both commits: each its own (default) or the AFTER one's",
    )
    parser.add_argument("--sections", default=None, help="ratio.py --sections, e.g. small")
    args = parser.parse_args(argv)
    revs = {}
    for rev in (args.before, args.after):
        revs[rev] = subprocess.run(
            ["git", "rev-parse", "--short", rev], check=True, capture_output=True, text=True,
            cwd=ROOT,
        ).stdout.strip()  # fmt: skip
    runs: dict[str, list[dict[str, float]]] = {args.before: [], args.after: []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for rev in runs:
            tree = Path(tmp) / f"tree-{revs[rev]}"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "--quiet", str(tree), revs[rev]],
                check=True, cwd=ROOT,
            )  # fmt: skip
            trees[rev] = tree
        try:
            for index in range(args.runs):
                # Alternate which commit goes first, so neither always gets the warmer machine.
                order = [args.before, args.after] if index % 2 == 0 else [args.after, args.before]
                for rev in order:
                    print(f"run {index + 1}/{args.runs}: {rev} ({revs[rev]})", file=sys.stderr)
                    out = Path(tmp) / f"{revs[rev]}-{index}.md"
                    harness = trees[args.after] if args.harness == "after" else None
                    runs[rev].append(
                        run_ratio(trees[rev], out, not args.full, harness, args.sections)
                    )
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
                )
    names = list(
        dict.fromkeys(
            name for rev in (args.after, args.before) for run in runs[rev] for name in run
        )
    )
    lines = [
        f"# Ratio rows: {args.before} ({revs[args.before]}) vs {args.after} ({revs[args.after]})",
        "",
        f"{args.runs} runs of `ratio.py{'' if args.full else ' --quick'}"
        f"{f' --sections {args.sections}' if args.sections else ''}` per commit, "
        "alternating; medians of the runs"
        + (f"; both measured by {args.after}'s ratio.py." if args.harness == "after" else "."),
        "",
        f"| row | {args.before} | {args.after} | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in names:
        cells = []
        for rev in (args.before, args.after):
            values = [run[name] for run in runs[rev] if name in run]
            cells.append(statistics.median(values) if values else None)
        before, after = cells
        change = f"{after / before - 1:+.1%}" if before and after else "-"
        shown = ["-" if c is None else f"{c:.3f}" for c in cells]
        lines.append(f"| {name} | {shown[0]} | {shown[1]} | {change} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
