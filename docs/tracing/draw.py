#!/usr/bin/env python3
"""Draws one VM's life from a `gunyah-vm-service --trace` file (Chrome JSON) as a PNG: one lane
per service thread, spans nested by depth; the top panel is the whole life, the bottom one
the first guest prints. Needs matplotlib.

  docs/tracing/draw.py TRACE.json OUT.png [VM_ID]
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {
    "access_check": "#9e9e9e",
    "createVm": "#1565c0",
    "driver": "#6a1b9a",
    "start": "#2e7d32",
    "vcpu": "#f9a825",
    "exit": "#ef6c00",
    "mmio": "#c62828",
    "destroy": "#455a64",
    "teardown": "#455a64",
    "reaper": "#795548",
}


def colour(name):
    return COLOURS.get(name.split(".")[0], "#607d8b")


def spans_of(events, vm):
    """(tid, depth, name, begin, end) of VM `vm`'s spans, and the access checks inside its
    createVm (which carry vm 0: the VM has no id yet)."""
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M"}
    stacks, out = {}, []
    for e in events:
        if e.get("ph") not in ("B", "E"):
            continue
        stack = stacks.setdefault(e["tid"], [])
        if e["ph"] == "B":
            stack.append(e)
            continue
        begin = stack.pop()
        args = {**begin.get("args", {}), **e.get("args", {})}
        out.append((e["tid"], len(stack), e["name"], begin["ts"], e["ts"], args.get("vm")))
    create = [s for s in out if s[2] == "createVm" and s[5] == vm]
    keep = [s for s in out if s[5] == vm]
    for c in create:
        keep += [s for s in out if s[2] == "access_check" and s[0] == c[0]
                 and c[3] <= s[3] <= c[4]]
    return keep, names


def draw(ax, spans, lanes, t0, scale, lo=None, hi=None, depth_labels=9):
    """Draws the spans; labels the first of each name (and exit.status, the guest's end)."""
    labelled = set()
    for tid, depth, name, b, e, _ in sorted(spans, key=lambda s: s[3]):
        x0, x1 = (b - t0) / scale, (e - t0) / scale
        if lo is not None and (x1 < lo or x0 > hi):
            continue
        y = lanes[tid] - depth * 0.16
        ax.barh(y, max(x1 - x0, 1e-3), left=x0, height=0.14, color=colour(name),
                edgecolor="black", linewidth=0.2)
        if depth <= depth_labels and name not in labelled and (lo is None or x0 >= lo):
            labelled.add(name)
            ax.text(x0, y - 0.08 if depth else y + 0.09, name, fontsize=6,
                    va="top" if depth else "bottom", rotation=-20 if depth else 20, clip_on=True)
    if lo is not None:
        ax.set_xlim(lo, hi)


def main():
    trace, out = sys.argv[1], sys.argv[2]
    vm = sys.argv[3] if len(sys.argv) > 3 else "1"
    events = json.load(open(trace))
    spans, names = spans_of(events, vm)
    if not spans:
        sys.exit(f"no spans of vm {vm} in {trace}")
    t0 = min(s[3] for s in spans)
    tids = sorted({s[0] for s in spans}, key=lambda t: min(s[3] for s in spans if s[0] == t))
    lanes = {t: -i for i, t in enumerate(tids)}
    lane_names = []
    for t in tids:
        first = min((s for s in spans if s[0] == t), key=lambda s: s[3])[2]
        role = {"createVm": "binder thread (client's calls)", "access_check":
                "binder thread (client's calls)", "vcpu.run": "vCPU 0 thread",
                "reaper.release": "release thread"}.get(first, first)
        lane_names.append(f"{names.get(t, role)}")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7.5),
                                      gridspec_kw={"height_ratios": [1, 1]})
    draw(top, spans, lanes, t0, 1000.0, depth_labels=0)
    top.set_xlabel("ms since createVm")
    top.set_title(f"VM {vm}: the README's quick start (gunyahctl run --program hello.s "
                  "--console 0x90000000)", fontsize=10)
    exits = sorted(s[3] for s in spans if s[2] == "exit.mmio")
    ends = sorted(s[4] for s in spans if s[2] == "exit.mmio")
    if exits:
        lo = (exits[0] - t0) / 1000.0 - 0.05
        hi = (ends[min(3, len(ends) - 1)] - t0) / 1000.0 + 0.05
        draw(bottom, spans, lanes, t0, 1000.0, lo, hi)
        first, last = exits[0], ends[-1]
        top.annotate(f"the guest prints: {len(exits)} MMIO exits", ((first - t0) / 1000.0,
                     lanes[tids[0]] - 0.55), fontsize=8)
        top.annotate("guest exits", ((last - t0) / 1000.0, lanes[tids[0]] - 0.7), fontsize=8)
        bottom.set_title("zoom: the guest's first MMIO writes to the console (one exit per "
                         "byte, answered over the MMIO ring)", fontsize=9)
        bottom.set_xlabel("ms since createVm")
    for ax in (top, bottom):
        ax.set_yticks([lanes[t] for t in tids], lane_names, fontsize=7)
        ax.set_ylim(min(lanes.values()) - 0.8, 0.45)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS.values()]
    top.legend(handles, [f"{k}.*" for k in COLOURS], fontsize=6, ncol=5, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=130)


if __name__ == "__main__":
    main()
