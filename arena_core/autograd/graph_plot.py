"""Draw a `Value` computation graph with matplotlib only (no graphviz binary): day 20.

Layered layout: a node's column is the length of the longest path from a leaf to it, so every
edge points rightwards, from inputs to the output; nodes in a column are spread vertically in
topological order. Each node shows its label or op, its value, and its gradient.
"""

from matplotlib.axes import Axes

from arena_core.autograd.value import Value, topological_order


def layered_layout(root: Value) -> dict[Value, tuple[float, float]]:
    """(column, row) for every node of the graph that ends at `root`."""
    order = topological_order(root)
    depth: dict[Value, int] = {}
    for node in order:  # parents come first, so their depth is known
        depth[node] = 1 + max((depth[p] for p in node._parents), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[node], []).append(node)
    pos = {}
    for col, nodes in columns.items():
        for row, node in enumerate(nodes):
            pos[node] = (float(col), (len(nodes) - 1) / 2 - row)
    return pos


def plot_value_graph(root: Value, ax: Axes, labels: dict | None = None) -> None:
    """Draw the graph of `root` on `ax`; `labels` maps a Value to a name like "w1"."""
    labels = labels or {}
    pos = layered_layout(root)
    for node, (x, y) in pos.items():
        for parent in set(node._parents):
            px, py = pos[parent]
            ax.annotate(
                "", xy=(x - 0.28, y), xytext=(px + 0.28, py),
                arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 1.0},
            )  # fmt: skip
    for node, (x, y) in pos.items():
        name = labels.get(node) or (node._op if node._op else "input")
        leaf = not node._parents
        text = f"{name}\ndata {node.data:.3g}\ngrad {node.grad:.3g}"
        ax.text(
            x, y, text, ha="center", va="center", fontsize=8, family="monospace",
            bbox={"boxstyle": "round,pad=0.35", "fc": "#dbeafe" if leaf else "#fef3c7",
                  "ec": "#1e3a8a" if leaf else "#92400e"},
        )  # fmt: skip
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.axis("off")
