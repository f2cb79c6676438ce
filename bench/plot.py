#!/usr/bin/python3
"""plot.py - draws e2b-bench's JSON (`e2b-bench --json FILE`) as one PNG.

    /usr/bin/python3 bench/plot.py bench.json bench.png

One panel per scenario that has sample series: box plots (whiskers at p1/p99, the
remaining points as dots) of every series side by side, libe2b in blue, the official JS SDK
in orange, floors/raw references in grey. Latency panels use a log scale; throughput
panels (MB/s) a linear one. A last panel shows the libe2b/SDK ratios of the p50s.
Called by `e2b-bench --plot`; uses Debian's matplotlib (Agg backend, no display needed).
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def colour(name):
    if name.startswith("libe2b_"):
        return "#1f77b4"
    if name.startswith("sdk_"):
        return "#ff7f0e"
    return "#7f7f7f"


def main():
    if len(sys.argv) != 3:
        print("usage: plot.py BENCH.json OUT.png", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    panels = [s for s in doc["scenarios"] if any(x["samples"] for x in s["series"])]
    ratios = doc.get("ratios", [])
    count = len(panels) + (1 if ratios else 0)
    if count == 0:
        print("plot.py: nothing to plot", file=sys.stderr)
        return 1
    cols = 2 if count > 1 else 1
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(8 * cols, 4.2 * rows), squeeze=False)
    flat = [a for row in axes for a in row]
    for ax, sc in zip(flat, panels):
        series = [x for x in sc["series"] if x["samples"]]
        data = [x["samples"] for x in series]
        labels = [x["name"] for x in series]
        unit = series[0]["unit"]
        box = ax.boxplot(data, whis=(1, 99), showfliers=True, patch_artist=True,
                         flierprops={"markersize": 2, "alpha": 0.4})
        for patch, s in zip(box["boxes"], series):
            patch.set_facecolor(colour(s["name"]))
            patch.set_alpha(0.6)
        for k, s in enumerate(series):
            ax.annotate(f"p50 {s['p50']:.4g}", (k + 1, s["p50"]), textcoords="offset points",
                        xytext=(18, 0), fontsize=7, va="center")
        if all(x["unit"] == "us" for x in series):
            ax.set_yscale("log")
            ax.set_ylabel("microseconds (log)")
        else:
            ax.set_ylabel(unit)
        ax.set_xticks(range(1, len(labels) + 1))
        ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=7)
        ax.set_title(f"{sc['scenario']}", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    used = len(panels)
    if ratios:
        ax = flat[used]
        used += 1
        names = [r["op"] for r in ratios]
        vals = [r["libe2b_over_sdk"] for r in ratios]
        cols_ = ["#2ca02c" if (r["unit"] == "MB/s") == (v >= 1) else "#d62728"
                 for r, v in zip(ratios, vals)]
        ax.barh(names, vals, color=cols_)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", lw=0.8)
        ax.set_title("libe2b / JS SDK (p50; < 1 faster for us/kB, > 1 faster for MB/s)",
                     fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
        for y, v in enumerate(vals):
            ax.annotate(f"{v:.3g}", (v, y), textcoords="offset points", xytext=(4, 0),
                        fontsize=7, va="center")
    for ax in flat[used:]:
        ax.axis("off")
    m = doc.get("machine", {})
    fig.suptitle(f"e2b-bench  {m.get('cpu_model', '')}, {m.get('cores', '?')} cores, "
                 f"kernel {m.get('kernel', '')}, node {m.get('node', '')}, {m.get('date', '')}",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
