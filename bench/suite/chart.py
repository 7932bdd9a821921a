"""The run as one PNG: hop latency, fan-out, throughput, scale-out, CPU and memory beside
their baselines and targets (matplotlib, from the `bench` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Results = dict[str, dict[str, Any]]


OURS, THEIRS = "#3b6ea8", "#9aa5b1"


def _bars(ax: Any, labels: list[str], values: list[float | None], ours: int = 1) -> None:
    """Bars with their values; the first `ours` are agentstream's, the rest baselines."""
    shown = [v if v is not None else 0.0 for v in values]
    bars = ax.bar(labels, shown, color=[OURS] * ours + [THEIRS] * (len(labels) - ours))
    for bar, value in zip(bars, values, strict=True):
        text = "n/a" if value is None else f"{value:,.1f}"
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.tick_params(axis="x", labelsize=8)


def _missing(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def hop(ax: Any, phase: dict[str, Any]) -> None:
    series = [("agentstream", phase["figures"]["tool_hop"])]
    series += [
        (label, phase["baselines"].get(key, {}))
        for key, label in (("raw_kafka", "raw Kafka"), ("celery", "Celery"))
    ]
    width = 0.38
    for offset, q in ((-width / 2, "p50_ms"), (width / 2, "p99_ms")):
        values = [figures.get(q) or 0.0 for _, figures in series]
        xs = [i + offset for i in range(len(series))]
        ax.bar(xs, values, width, label=q.removesuffix("_ms"))
    ax.set_xticks(range(len(series)), [label for label, _ in series], fontsize=8)
    ax.axhline(2.5, color="green", ls=":", lw=1, label="p50 target")
    ax.axhline(10, color="red", ls=":", lw=1, label="p99 target")
    ax.set_ylabel("ms")
    ax.set_title("Tool hop / no-op round trip", fontsize=10)
    ax.legend(fontsize=7)


def fanout(ax: Any, phase: dict[str, Any]) -> None:
    base = phase["baselines"]
    labels = [
        "agentstream\n(wall - model)",
        "Kafka hops\nalone",
        "asyncio.gather",
        "Celery group",
        "sequential",
    ]
    values = [phase["figures"]["wall_minus_model"].get("p50_ms")]
    keys = ("raw_kafka", "gather", "celery", "sequential")
    values += [base.get(key, {}).get("p50_ms") for key in keys]
    _bars(ax, labels, values)
    ax.axhline(808, color="green", ls=":", lw=1)
    ax.set_ylabel("ms, p50")
    ax.set_title("Fan-out 5 x sleep 0.8 s", fontsize=10)


def throughput(ax: Any, phase: dict[str, Any]) -> None:
    figures = phase["figures"]
    labels = ["1 orch.", "2 orch.", "Celery\nno-op"]
    values = [figures.get(f"orchestrators_{n}", {}).get("tool_calls_per_s") for n in (1, 2)]
    values.append(phase["baselines"].get("celery", {}).get("tasks_per_s"))
    _bars(ax, labels, values, ours=2)
    ax.axhline(600, color="green", ls=":", lw=1)
    ax.set_ylabel("tool calls (tasks) / s")
    ax.set_title("Throughput (3 no-op calls per conversation)", fontsize=10)


def scale_out(ax: Any, phase: dict[str, Any]) -> None:
    runs = sorted(phase["figures"].values(), key=lambda r: r["workers"])
    workers = [r["workers"] for r in runs]
    ax.plot(workers, [r["ideal_per_s"] for r in runs], "k--", label="ideal (linear)")
    ax.plot(workers, [r["calls_per_s"] or 0 for r in runs], "o-", label="agentstream")
    ax.set_xticks(workers)
    ax.set_xlabel("worker processes (concurrency 1)")
    ax.set_ylabel("calls / s")
    ax.set_title("Scale-out, 100 ms tool", fontsize=10)
    ax.legend(fontsize=7)


def cost(ax: Any, results: Results) -> None:
    tp = results.get("throughput", {}).get("figures", {}).get("orchestrators_1", {})
    mem = results.get("memory", {}).get("figures", {})
    labels = ["orch. ms\n/ conv.", "model worker\nms / call", "KB / conv.\nin flight"]
    values = [
        tp.get("cpu", {}).get("orchestrator_ms_per_conversation"),
        tp.get("cpu", {}).get("model_worker_ms_per_model_call"),
        mem.get("kb_per_conversation"),
    ]
    _bars(ax, labels, values, ours=3)
    ax.scatter(range(3), [2.0, 1.0, 5.0], marker="_", s=600, color="green", label="target")
    ax.set_title("Cost: CPU (1 orchestrator) and memory", fontsize=10)
    ax.legend(fontsize=7)


def verdicts(ax: Any, results: Results) -> None:
    """The targets of the run, met or not, as text."""
    ax.axis("off")
    lines = [
        f"{'met' if met else 'NOT met' if met is not None else 'n/a'}:  {key}"
        for phase in results.values()
        for key, met in phase.get("targets", {}).items()
    ]
    ax.set_title("Targets", fontsize=10)
    ax.text(
        0,
        1,
        "\n".join(lines) or "none",
        va="top",
        fontsize=8,
        family="monospace",
        transform=ax.transAxes,
    )


def draw(results: Results, out: Path) -> None:
    """Write the chart; a phase that did not run (or failed) gets an empty panel."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = [
        ("hop", hop, "Tool hop"),
        ("fanout", fanout, "Fan-out"),
        ("throughput", throughput, "Throughput"),
        ("scale_out", scale_out, "Scale-out"),
    ]
    for ax, (name, plot, title) in zip(axes.flat, panels, strict=False):
        phase = results.get(name)
        if phase and not phase.get("error") and phase.get("figures"):
            plot(ax, phase)
        else:
            _missing(ax, title)
    cost(axes.flat[4], results)
    verdicts(axes.flat[5], results)
    fig.suptitle("agentstream vs baselines, same run (dotted / markers: targets)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
