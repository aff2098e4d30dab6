#!/usr/bin/env python3
"""Plots of `silt bench compare` results: latency distributions and recall against latency.

Usage: plot.py RESULT.json [RESULT.json ...] --out DIR
Writes DIR/<dataset>-latency.png and DIR/<dataset>-recall.png for each result, and
DIR/<dataset>-sweep.png (recall against latency over the search-effort sweep) when it has one.
"""
import argparse
import json
import os
import textwrap

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLOURS = {"silt": "tab:blue", "chroma": "tab:orange"}


def colour(name, i):
    return COLOURS.get(name, f"C{i + 2}")


def cdf(ax, samples, label, c, style="-"):
    if not samples:
        return
    x = np.sort(np.asarray(samples))
    y = np.arange(1, len(x) + 1) / len(x)
    ax.plot(x, y, style, color=c, label=label)


def latency_plot(r, path):
    lines = [t["filtered"] for t in r["targets"]]
    names = [l["name"] for l in lines[0]] if lines else []
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    for i, t in enumerate(r["targets"]):
        c = colour(t["name"], i)
        cdf(ax, t["sequential"]["samples_ms"], f"{t['name']} sequential", c)
        cdf(ax, t["concurrent"]["samples_ms"], f"{t['name']} {r['clients']} clients", c, "--")
    ax.set_xscale("log")
    ax.set_xlabel("query latency, ms (log)")
    ax.set_ylabel("fraction of queries")
    ax.set_title(f"{r['dataset']}: unfiltered KNN, k={r['k']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()

    ax = axes[1]
    width = 0.8 / max(1, len(r["targets"]))
    for i, t in enumerate(r["targets"]):
        data = [l["samples_ms"] for l in t["filtered"]]
        pos = np.arange(len(data)) + i * width
        bp = ax.boxplot(data, positions=pos, widths=width * 0.9, whis=(1, 99), showfliers=False,
                        patch_artist=True)
        for box in bp["boxes"]:
            box.set_facecolor(colour(t["name"], i))
            box.set_alpha(0.6)
        ax.plot([], [], color=colour(t["name"], i), label=t["name"], linewidth=8, alpha=0.6)
    ax.set_xticks(np.arange(len(names)) + width * (len(r["targets"]) - 1) / 2)
    ax.set_xticklabels(["\n".join(textwrap.wrap(n, 12)) for n in names], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("latency, ms (log); box p25-p75, whiskers p1-p99")
    ax.set_title("filtered queries and gets")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def finish_recall_chart(fig, ax, r, path, xlabel, title):
    """Recall (y) against latency on a log x axis, labelled, saved to `path` and closed."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"recall@{r['k']}")
    ax.set_title(f"{r['dataset']}: {title}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def recall_plot(r, path):
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, t in enumerate(r["targets"]):
        c = colour(t["name"], i)
        points = [("unfiltered", t["sequential"])] + [
            (l["name"].replace("query ", ""), l) for l in t["filtered"] if l.get("recall") is not None
        ]
        for j, (label, l) in enumerate(points):
            x, y = l["latency"]["p50"], l["recall"]
            ax.errorbar(x, y, xerr=[[0], [l["latency"]["p99"] - x]], fmt="o", color=c, capsize=3,
                        label=t["name"] if j == 0 else None)
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, -12 - 9 * (j % 2)),
                        fontsize=8, color=c)
    finish_recall_chart(fig, ax, r, path, "query latency, ms (log): dot p50, bar to p99",
                        "recall against latency")


def sweep_plot(r, path):
    """Recall against sequential p50 over the `hnsw.ef_search` sweep, a line per server."""
    if not any(t.get("sweep") for t in r["targets"]):
        return False
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, t in enumerate(r["targets"]):
        points = t.get("sweep") or []
        if not points:
            continue
        c = colour(t["name"], i)
        xs = [p["latency"]["p50"] for p in points]
        ys = [p["recall"] for p in points]
        ax.plot(xs, ys, "o-", color=c, label=t["name"])
        for p, x, y in zip(points, xs, ys):
            ax.annotate(f"ef {p['ef_search']}", (x, y), textcoords="offset points", xytext=(4, -11),
                        fontsize=7, color=c)
    finish_recall_chart(fig, ax, r, path, "sequential query latency p50, ms (log)",
                        "recall against latency, hnsw.ef_search sweep")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for p in a.results:
        with open(p) as fh:
            r = json.load(fh)
        base = os.path.join(a.out, r["dataset"])
        latency_plot(r, base + "-latency.png")
        recall_plot(r, base + "-recall.png")
        print(f"wrote {base}-latency.png, {base}-recall.png")
        if sweep_plot(r, base + "-sweep.png"):
            print(f"wrote {base}-sweep.png")


if __name__ == "__main__":
    main()
